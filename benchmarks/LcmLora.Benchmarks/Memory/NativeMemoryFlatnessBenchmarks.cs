using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Models;
using LcmLora.Models.Unet;
using TorchSharp;

namespace LcmLora.Benchmarks.Memory;

/// <summary>
/// Native memory stays flat over many UNet steps: 100 tiny-UNet steps (batch 2, 64x64 latents) per invocation, RSS
/// sampled after every invocation; the global cleanup prints "NATIVE MEMORY CHECK ... PASS/FAIL" into the benchmark
/// log (warm-up invocation excluded). The ΔRSS column shows the same over the measured iterations.
/// For full size: <c>check-memory sdxl-base 10</c>.
/// </summary>
[Config(typeof(ShortJobConfig)), BenchModel(BenchModels.Tiny)]
public class NativeMemoryFlatnessBenchmarks
{
    /// <summary>Steps per invocation.</summary>
    public const int Steps = 100;

    private readonly RssTrace _trace = new();
    private long _steps;
    private SdxlUNet _unet = null!;
    private BenchInputs _inputs = null!;
    private torch.Tensor _sample = null!;
    private torch.Tensor _conditioning = null!;

    /// <summary>Loads the tiny UNet.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        using (var checkpoint = BenchModels.Open(BenchModels.Tiny))
        {
            _unet = BenchModels.LoadComponent<SdxlUNet>(checkpoint, ModelComponent.Unet);
            _inputs = BenchInputs.Create(checkpoint.Configs, 2);
        }
        using var _ = torch.inference_mode();
        _sample = _inputs.Latents.expand(2, -1, -1, -1).contiguous();
        _conditioning = _unet.ConditioningEmbedding(_inputs.Pooled, _inputs.TimeIds);
        _trace.Sample(0);
    }

    /// <summary>100 steps.</summary>
    [Benchmark]
    public void TinyUNet100Steps()
    {
        using var _ = torch.inference_mode();
        for (var i = 0; i < Steps; i++)
        {
            using var scope = torch.NewDisposeScope();
            using var t = torch.tensor(new[] { 999f - i * 9 });
            _unet.Denoise(_sample, t, _inputs.TextStates, _conditioning);
        }
        _steps += Steps;
        _trace.Sample(_steps);
    }

    /// <summary>Prints the check, frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _trace.Report(Console.Out, $"(tiny UNet, batch 2, {Steps} steps per invocation)", warmupSamples: 2);
        _conditioning?.Dispose();
        _sample?.Dispose();
        _inputs?.Dispose();
        _unet?.Dispose();
    }
}
