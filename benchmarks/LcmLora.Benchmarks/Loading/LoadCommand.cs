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
        var clock = Stopwatch.StartNew();
        using var checkpoint = SdxlCheckpoint.Open(path);
        using var models = checkpoint.Load();
        var seconds = clock.Elapsed.TotalSeconds;
        var after = ProcStatus.Self();
        var bytes = models.Components.Values.SelectMany(m => m.parameters()).Sum(p => p.numel() * p.ElementSize);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"LOAD seconds={seconds:0.000} model_bytes={bytes} rss_before={before.RssBytes} rss_after={after.RssBytes} peak={after.PeakRssBytes}"));
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
        Console.WriteLine($"  peak RSS (VmHWM): {Spread("peak", Gb)}; peak / model = {results.Max(r => r["peak"]) / modelBytes:0.000} (worst run)");
        Console.WriteLine($"  RSS after load: {Spread("rss_after", Gb)}; process before load: {Gb(results[0]["rss_before"])}");
        return 0;
    }
}
