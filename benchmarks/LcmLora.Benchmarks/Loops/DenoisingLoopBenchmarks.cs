using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Models;
using LcmLora.Models.Unet;
using LcmLora.Schedulers;
using TorchSharp;

namespace LcmLora.Benchmarks.Loops;

/// <summary>
/// LCM at 4 steps and guidance 1 (batch 1) against Euler at 25 steps and guidance 5 (CFG, batch 2), same UNet,
/// 512x512; the Ratio column is Euler's time over LCM's. The model is fixed by the subclass.
/// </summary>
public abstract class DenoisingLoopBenchmarks
{
    private SdxlUNet _unet = null!;
    private BenchInputs _positive = null!;
    private BenchInputs _negative = null!;
    private readonly LcmScheduler _lcm = new();
    private readonly EulerDiscreteScheduler _euler = new();

    /// <summary>The model of this class (its <see cref="BenchModelAttribute"/>).</summary>
    protected string Model => BenchModelAttribute.Of(GetType());

    /// <summary>Run this many untimed UNet steps (batch 1 and 2) in the global setup.</summary>
    protected virtual int SetupWarmupSteps => 0;

    /// <summary>Loads the UNet only.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        using (var checkpoint = BenchModels.Open(Model))
        {
            _unet = BenchModels.LoadComponent<SdxlUNet>(checkpoint, ModelComponent.Unet);
            _positive = BenchInputs.Create(checkpoint.Configs, 1, seed: 1);
            _negative = BenchInputs.Create(checkpoint.Configs, 1, seed: 2);
        }
        for (var i = 0; i < SetupWarmupSteps; i++)
        {
            using var _ = torch.inference_mode();
            using var scope = torch.NewDisposeScope();
            DenoisingLoop.Run(_unet, _lcm, 1, 1.0, _positive, _negative, _positive.Latents);
            DenoisingLoop.Run(_unet, _euler, 1, 5.0, _positive, _negative, _positive.Latents);
        }
    }

    /// <summary>LCM, 4 steps, guidance 1.</summary>
    [Benchmark(Baseline = true), Flops(Work.LcmLoop4)]
    public void Lcm4StepsGuidance1()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        DenoisingLoop.Run(_unet, _lcm, 4, 1.0, _positive, _negative, _positive.Latents);
    }

    /// <summary>Euler, 25 steps, guidance 5 (CFG).</summary>
    [Benchmark, Flops(Work.EulerLoop25Cfg)]
    public void Euler25StepsGuidance5Cfg()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        DenoisingLoop.Run(_unet, _euler, 25, 5.0, _positive, _negative, _positive.Latents);
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _positive?.Dispose();
        _negative?.Dispose();
        _unet?.Dispose();
    }
}

/// <summary>The loops on the tiny model: short job (1 warm-up, 3 measured iterations).</summary>
[Config(typeof(ShortJobConfig)), BenchModel(BenchModels.Tiny)]
public class TinyDenoisingLoopBenchmarks : DenoisingLoopBenchmarks;

/// <summary>
/// The loops on full-size SDXL: the Euler loop takes about ten minutes, so each loop runs once (single-shot job)
/// after one untimed batch-1 and batch-2 step in the global setup. The per-step spread is in UNetStepBenchmarks.
/// </summary>
[Config(typeof(SingleShotConfig)), BenchModel(BenchModels.Full)]
public class SdxlDenoisingLoopBenchmarks : DenoisingLoopBenchmarks
{
    /// <inheritdoc/>
    protected override int SetupWarmupSteps => 1;
}
