using System.Diagnostics;
using System.Globalization;
using LcmLora.Benchmarks.Diagnosers;
using LcmLora.Benchmarks.Setup;
using LcmLora.Checkpoints;

namespace LcmLora.Benchmarks.Loading;

/// <summary>
/// <c>load-once [MODEL]</c>: in this (fresh) process, opens and loads the checkpoint in fp32 and prints one line
/// "LOAD seconds=… model_bytes=… rss_after=… peak=…". <c>load-fresh [N] [MODEL]</c> runs load-once in N child
/// processes one after another and summarizes: the honest peak of a load is the VmHWM of a fresh process.
/// </summary>
public static class LoadCommand
{
    /// <summary>Loads once and prints the figures.</summary>
    public static int Once(string model)
    {
        BenchModels.Init();
        var path = BenchModels.PathOf(model);
        var before = ProcStatus.Self();
        // VmHWM counts the mapped checkpoint's pages too; sample RssAnon (allocations only) for its peak.
        long peakAnon = before.AnonBytes;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peakAnon = Math.Max(peakAnon, ProcStatus.Self().AnonBytes);
                await Task.Delay(5);
            }
        });
        var clock = Stopwatch.StartNew();
        using var checkpoint = SdxlCheckpoint.Open(path);
        using var models = checkpoint.Load();
        var seconds = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        sampler.Wait();
        var after = ProcStatus.Self();
        peakAnon = Math.Max(peakAnon, after.AnonBytes);
        var bytes = models.Components.Values.SelectMany(m => m.parameters()).Sum(p => p.numel() * p.ElementSize);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"LOAD seconds={seconds:0.000} model_bytes={bytes} rss_before={before.RssBytes} anon_before={before.AnonBytes} rss_after={after.RssBytes} " +
            $"anon_after={after.AnonBytes} file_after={after.FileBytes} peak={after.PeakRssBytes} peak_anon={peakAnon}"));
        return 0;
    }

    /// <summary>Runs <paramref name="runs"/> fresh processes and summarizes.</summary>
    public static int Fresh(int runs, string model)
    {
        var dll = typeof(LoadCommand).Assembly.Location;
        var results = new List<Dictionary<string, double>>();
        for (var i = 0; i < runs; i++)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true };
            if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet") start.ArgumentList.Add(dll);
            start.ArgumentList.Add("load-once");
            start.ArgumentList.Add(model);
            using var child = Process.Start(start)!;
            var line = child.StandardOutput.ReadToEnd().Split('\n').FirstOrDefault(l => l.StartsWith("LOAD ", StringComparison.Ordinal));
            child.WaitForExit();
            if (line is null || child.ExitCode != 0)
            {
                Console.Error.WriteLine($"load-once failed (exit {child.ExitCode}).");
                return 1;
            }
            Console.WriteLine($"run {i + 1}: {line}");
            results.Add(line[5..].Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => double.Parse(kv[1], CultureInfo.InvariantCulture)));
        }
        string Spread(string key, Func<double, string> f) =>
            $"mean {f(results.Average(r => r[key]))}, min {f(results.Min(r => r[key]))}, max {f(results.Max(r => r[key]))}";
        static string Gb(double b) => (b / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " GB";
        var modelBytes = results[0]["model_bytes"];
        Console.WriteLine($"{model}: fresh-process load of {results.Count} runs, {BenchModels.Threads} threads");
        Console.WriteLine($"  time: {Spread("seconds", s => s.ToString("0.00", CultureInfo.InvariantCulture) + " s")}");
        Console.WriteLine($"  model (fp32 parameters): {Gb(modelBytes)}");
        Console.WriteLine($"  peak RSS (VmHWM, includes mapped file pages): {Spread("peak", Gb)}; peak / model = {results.Max(r => r["peak"]) / modelBytes:0.000} (worst run)");
        Console.WriteLine($"  peak anonymous RSS (RssAnon sampled every 5 ms): {Spread("peak_anon", Gb)}; (peak - before) / model = " +
            $"{results.Max(r => r["peak_anon"] - r["anon_before"]) / modelBytes:0.000} (worst run)");
        Console.WriteLine($"  after load: RSS {Spread("rss_after", Gb)}; anonymous {Spread("anon_after", Gb)}; file-backed (mapped checkpoint) {Spread("file_after", Gb)}");
        Console.WriteLine($"  process before load: RSS {Gb(results[0]["rss_before"])}, anonymous {Gb(results[0]["anon_before"])}");
        return 0;
    }
}
