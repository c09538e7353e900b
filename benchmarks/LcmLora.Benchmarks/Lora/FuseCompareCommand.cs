using System.Diagnostics;
using System.Globalization;
using LcmLora.Benchmarks.Setup;
using LcmLora.Benchmarks.Weights;
using LcmLora.Runtime;

namespace LcmLora.Benchmarks.Lora;

/// <summary>
/// <c>fuse-compare [DTYPES] [N]</c>: per compute dtype (default fp32,bf16, one after the other in this process, each
/// pipeline disposed before the next loads), loads the full-size model as users do, adds the LCM-LoRA-shaped rank-64
/// adapter and times N fuse/unfuse rounds. At bf16 every delta is computed in fp32, added to the fp32 value of the
/// weight and rounded once, and unfuse re-reads and converts the originals, so a fuse may cost more than at fp32.
/// </summary>
public static class FuseCompareCommand
{
    /// <summary>Runs the comparison.</summary>
    public static int Run(string[] args)
    {
        var dtypes = (args.Length > 1 ? args[1] : "fp32,bf16").Split(',');
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        Console.WriteLine($"fuse-compare: {BenchModels.Threads} threads, {DateTime.UtcNow:u}, CPU bf16: {CpuBf16Support.Feature ?? "none"}");
        foreach (var name in dtypes)
        {
            using var pipeline = BenchPipelines.Load(BenchModels.Full, ComputePrecisions.Parse(name));
            pipeline.Loras.Add("lcm", RandomLoraFile.EnsureLcmLoraShaped());
            var fuse = new List<double>();
            var unfuse = new List<double>();
            for (var i = 0; i < rounds; i++)
            {
                var clock = Stopwatch.StartNew();
                pipeline.Loras.Fuse();
                fuse.Add(clock.Elapsed.TotalSeconds);
                clock.Restart();
                pipeline.Loras.Unfuse();
                unfuse.Add(clock.Elapsed.TotalSeconds);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"FUSE dtype={pipeline.Precision.Name} fuse_s={Summary(fuse)} unfuse_s={Summary(unfuse)}"));
        }
        return 0;
    }

    private static string Summary(List<double> seconds) => string.Create(CultureInfo.InvariantCulture,
        $"{seconds.Average():0.00} ({string.Join(", ", seconds.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))})");
}
