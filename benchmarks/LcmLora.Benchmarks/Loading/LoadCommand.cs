using System.Diagnostics;
using System.Globalization;
using LcmLora.Benchmarks.Diagnosers;
using LcmLora.Benchmarks.Setup;
using LcmLora.Checkpoints;
using TorchSharp;

namespace LcmLora.Benchmarks.Loading;

/// <summary>
/// <c>load-once [MODEL] [DTYPE]</c>: in this (fresh) process, opens and loads the checkpoint in DTYPE (fp32) and prints one line
/// "LOAD seconds=… model_bytes=… rss_after=… peak=…". <c>load-fresh [N] [MODEL] [DTYPE]</c> runs load-once in N child
/// processes one after another and summarizes: the honest peak of a load is the VmHWM of a fresh process.
/// </summary>
public static class LoadCommand
{
    /// <summary>Loads once and prints the figures.</summary>
    public static int Once(string model, torch.ScalarType dtype = torch.ScalarType.Float32)
    {
        BenchModels.Init();
        var path = BenchModels.PathOf(model);
        var before = ProcStatus.Self();
        using var sampler = new AnonPeakSampler();
        var clock = Stopwatch.StartNew();
        using var checkpoint = SdxlCheckpoint.Open(path);
        using var models = checkpoint.Load(dtype: dtype);
        var seconds = clock.Elapsed.TotalSeconds;
        var peakAnon = sampler.Peak;
        var after = ProcStatus.Self();
        var bytes = models.Components.Values.SelectMany(m => m.parameters()).Sum(p => p.numel() * p.ElementSize);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"LOAD seconds={seconds:0.000} model_bytes={bytes} rss_before={before.RssBytes} anon_before={before.AnonBytes} rss_after={after.RssBytes} " +
            $"anon_after={after.AnonBytes} file_after={after.FileBytes} peak={after.PeakRssBytes} peak_anon={peakAnon}"));
        return 0;
    }

    /// <summary>Runs <paramref name="runs"/> fresh processes and summarizes.</summary>
    public static int Fresh(int runs, string model, string dtype = "fp32")
    {
        var dll = typeof(LoadCommand).Assembly.Location;
        var results = new List<Dictionary<string, double>>();
        for (var i = 0; i < runs; i++)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true };
            if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet") start.ArgumentList.Add(dll);
            start.ArgumentList.Add("load-once");
            start.ArgumentList.Add(model);
            start.ArgumentList.Add(dtype);
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
        Console.WriteLine($"{model}: fresh-process load of {results.Count} runs into {dtype}, {BenchModels.Threads} threads");
        Console.WriteLine($"  time: {Spread("seconds", s => s.ToString("0.00", CultureInfo.InvariantCulture) + " s")}");
        Console.WriteLine($"  model ({dtype} parameters): {Gb(modelBytes)}");
        Console.WriteLine($"  peak RSS (VmHWM, includes mapped file pages): {Spread("peak", Gb)}; peak / model = {results.Max(r => r["peak"]) / modelBytes:0.000} (worst run)");
        Console.WriteLine($"  peak anonymous RSS (RssAnon sampled every 5 ms): {Spread("peak_anon", Gb)}; (peak - before) / model = " +
            $"{results.Max(r => r["peak_anon"] - r["anon_before"]) / modelBytes:0.000} (worst run)");
        Console.WriteLine($"  after load: RSS {Spread("rss_after", Gb)}; anonymous {Spread("anon_after", Gb)}; file-backed (mapped checkpoint) {Spread("file_after", Gb)}");
        Console.WriteLine($"  process before load: RSS {Gb(results[0]["rss_before"])}, anonymous {Gb(results[0]["anon_before"])}");
        return 0;
    }
}
