using LcmLora.Benchmarks.Setup;
using LcmLora.Models;
using LcmLora.Models.Unet;
using TorchSharp;

namespace LcmLora.Benchmarks.Memory;

/// <summary>
/// <c>check-memory MODEL STEPS [BATCH]</c>: loads the UNet, runs STEPS denoising steps at 64x64 latents sampling RSS
/// after each, and prints the flatness verdict (the first WARMUP samples, default 2, excluded). Exit code 1 on FAIL.
/// </summary>
public static class MemoryCheckCommand
{
    /// <summary>Runs the check.</summary>
    public static int Run(string[] args)
    {
        var model = args.Length > 1 ? args[1] : BenchModels.Tiny;
        var steps = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 100;
        var batch = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1;
        // glibc's heap settles after a number of steps that depends on the allocation pattern (measured at full size:
        // +242 MiB over the first 13 steps, then flat); the verdict is taken over the steps after the warm-up.
        var warmup = args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 2;
        BenchModels.Init();
        SdxlUNet unet;
        BenchInputs inputs;
        using (var checkpoint = BenchModels.Open(model))
        {
            unet = BenchModels.LoadComponent<SdxlUNet>(checkpoint, ModelComponent.Unet);
            inputs = BenchInputs.Create(checkpoint.Configs, batch);
        }
        using (unet)
        using (inputs)
        {
            using var _ = torch.inference_mode();
            using var sample = inputs.Latents.expand(batch, -1, -1, -1).contiguous();
            using var conditioning = unet.ConditioningEmbedding(inputs.Pooled, inputs.TimeIds);
            var trace = new RssTrace();
            trace.Sample(0);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 1; i <= steps; i++)
            {
                using var scope = torch.NewDisposeScope();
                using var t = torch.tensor(new[] { 999f - i * 9 % 999 });
                unet.Denoise(sample, t, inputs.TextStates, conditioning);
                scope.Dispose();
                trace.Sample(i);
            }
            Console.WriteLine($"{steps} steps of the {model} UNet, batch {batch}, 64x64 latents, {BenchModels.Threads} threads: " +
                $"{clock.Elapsed.TotalSeconds:0.00} s ({clock.Elapsed.TotalSeconds / steps:0.000} s/step)");
            return trace.Report(Console.Out, $"({model} UNet, batch {batch}, {steps} steps)", warmupSamples: warmup) ? 0 : 1;
        }
    }
}
