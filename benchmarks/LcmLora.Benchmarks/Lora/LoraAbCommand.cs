using System.Diagnostics;
using LcmLora.Benchmarks.Setup;
using LcmLora.Benchmarks.Weights;
using TorchSharp;

namespace LcmLora.Benchmarks.Lora;

/// <summary>
/// <c>lora-ab [N]</c>: in one process (same allocations, same pages), alternates N times: a plain UNet step, fuse the
/// LCM-LoRA-shaped rank-64 adapter, a fused step, unfuse. Separate benchmark processes differ by a few percent in
/// step time; alternating in one process isolates the effect of fusing.
/// </summary>
public static class LoraAbCommand
{
    /// <summary>Runs the comparison.</summary>
    public static int Run(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;
        using var pipeline = BenchPipelines.Load(BenchModels.Full);
        pipeline.Loras.Add("lcm", RandomLoraFile.EnsureLcmLoraShaped());
        using var inputs = BenchInputs.Create(pipeline.Models.Configs, 1);
        using var timestep = torch.tensor(new[] { 999f });
        torch.Tensor conditioning;
        using (torch.inference_mode()) conditioning = pipeline.Models.Unet.ConditioningEmbedding(inputs.Pooled, inputs.TimeIds);
        double Step()
        {
            using var _ = torch.inference_mode();
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            pipeline.Models.Unet.Denoise(inputs.Latents, timestep, inputs.TextStates, conditioning);
            return clock.Elapsed.TotalSeconds;
        }
        Step();
        var plain = new List<double>();
        var fused = new List<double>();
        for (var i = 0; i < rounds; i++)
        {
            plain.Add(Step());
            var clock = Stopwatch.StartNew();
            pipeline.Loras.Fuse();
            var fuse = clock.Elapsed.TotalSeconds;
            fused.Add(Step());
            clock.Restart();
            pipeline.Loras.Unfuse();
            Console.WriteLine($"round {i + 1}: plain {plain[^1]:0.000} s, fuse {fuse:0.000} s, fused {fused[^1]:0.000} s, unfuse {clock.Elapsed.TotalSeconds:0.000} s");
        }
        conditioning.Dispose();
        Console.WriteLine($"plain: mean {plain.Average():0.000} s (min {plain.Min():0.000}, max {plain.Max():0.000}); " +
            $"fused: mean {fused.Average():0.000} s (min {fused.Min():0.000}, max {fused.Max():0.000}); fused / plain = {fused.Average() / plain.Average():0.000}");
        return 0;
    }
}
