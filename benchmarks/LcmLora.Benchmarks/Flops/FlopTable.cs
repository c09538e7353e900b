using System.Globalization;
using LcmLora.Benchmarks.Setup;

namespace LcmLora.Benchmarks.Flops;

/// <summary>Prints the FLOP counts of the benchmarked work (the <c>flops</c> command).</summary>
public static class FlopTable
{
    /// <summary>Writes one line per work item: total and split by op kind, in TFLOP.</summary>
    public static void Print(TextWriter output)
    {
        output.WriteLine($"FLOPs counted from the configs ({BenchSizes.Image}x{BenchSizes.Image}, {BenchSizes.Latent}x{BenchSizes.Latent} latents, 77 text tokens)");
        output.WriteLine($"{"work",-34} {"total TFLOP",12} {"conv",9} {"linear",9} {"attention",9} {"ops",6}");
        foreach (var model in new[] { BenchModels.Full, BenchModels.Tiny })
        {
            Line(output, $"{model} UNet step batch 1", WorkOps.Of(Work.UNetStep, model, 1));
            Line(output, $"{model} UNet step batch 2 (CFG)", WorkOps.Of(Work.UNetStep, model, 2));
            Line(output, $"{model} VAE decode", WorkOps.Of(Work.VaeDecode, model));
            Line(output, $"{model} text encoders", WorkOps.Of(Work.TextEncoders, model));
            Line(output, $"{model} LCM 4 steps", WorkOps.Of(Work.LcmLoop4, model));
            Line(output, $"{model} Euler 25 steps CFG", WorkOps.Of(Work.EulerLoop25Cfg, model));
        }
    }

    private static void Line(TextWriter output, string name, IReadOnlyList<FlopOp> ops)
    {
        static string T(double f) => (f / 1e12).ToString("0.0000", CultureInfo.InvariantCulture);
        output.WriteLine($"{name,-34} {T(FlopCounter.Total(ops)),12} {T(FlopCounter.Total(ops, OpKind.Conv)),9} " +
            $"{T(FlopCounter.Total(ops, OpKind.Linear)),9} {T(FlopCounter.Total(ops, OpKind.Attention)),9} {ops.Count,6}");
    }
}
