using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Models;
using LcmLora.Models.Unet;
using TorchSharp;

namespace LcmLora.Benchmarks.Components;

/// <summary>
/// One UNet denoising step (<see cref="SdxlUNet.Denoise"/>, conditioning embedding precomputed) at 64x64 latents
/// (512x512): batch 1 is a step without classifier-free guidance (LCM, guidance 1), batch 2 a CFG step.
/// </summary>
[Config(typeof(ShortJobConfig))]
public class UNetStepBenchmarks
{
    private SdxlUNet _unet = null!;
    private BenchInputs _inputs = null!;
    private torch.Tensor _sample = null!;
    private torch.Tensor _timestep = null!;
    private torch.Tensor _conditioning = null!;

    /// <summary>Which model.</summary>
    [ParamsSource(typeof(BenchModels), nameof(BenchModels.Selected))]
    public string Model { get; set; } = BenchModels.Full;

    /// <summary>Batch: 1 = no CFG, 2 = CFG.</summary>
    [Params(1, 2)]
    public int Batch { get; set; } = 1;

    /// <summary>Loads the UNet only and prepares inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        using (var checkpoint = BenchModels.Open(Model))
        {
            _unet = BenchModels.LoadComponent<SdxlUNet>(checkpoint, ModelComponent.Unet);
            _inputs = BenchInputs.Create(checkpoint.Configs, Batch);
        }
        using var _ = torch.inference_mode();
        _sample = _inputs.Latents.expand(Batch, -1, -1, -1).contiguous();
        _timestep = torch.tensor(new[] { 999f });
        _conditioning = _unet.ConditioningEmbedding(_inputs.Pooled, _inputs.TimeIds);
    }

    /// <summary>One step.</summary>
    [Benchmark, Flops(Work.UNetStep)]
    public void UNetStep()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _unet.Denoise(_sample, _timestep, _inputs.TextStates, _conditioning);
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _conditioning?.Dispose();
        _timestep?.Dispose();
        _sample?.Dispose();
        _inputs?.Dispose();
        _unet?.Dispose();
    }
}
