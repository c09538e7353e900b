using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Models.ControlNet;
using LcmLora.Models.Unet;
using TorchSharp;

namespace LcmLora.Benchmarks.Components;

/// <summary>
/// What one ControlNet adds to a denoising step: its residuals (<see cref="SdxlControlNet.Residuals"/>) at 512x512 and
/// 1024x1024, batch 1 (LCM, guidance 1). The ControlNet has the UNet's encoder half (full size: SDXL base's config,
/// conditioning embedding 16-32-96-256) with seeded random weights; compare with <see cref="UNetStepBenchmarks"/>
/// for the whole step. (Inpainting changes a step only by one latent blend, or by 5 more conv_in input channels with
/// a 9-channel UNet; its extra cost is two VAE encodes per generation, not benchmarked here.)
/// </summary>
[Config(typeof(ShortJobConfig))]
public class ControlNetStepBenchmarks
{
    private SdxlControlNet _controlnet = null!;
    private BenchInputs _inputs = null!;
    private torch.Tensor _sample = null!;
    private torch.Tensor _control = null!;
    private torch.Tensor _timestep = null!;
    private torch.Tensor _conditioning = null!;

    /// <summary>Which model's UNet the ControlNet copies.</summary>
    [ParamsSource(typeof(BenchModels), nameof(BenchModels.Selected))]
    public string Model { get; set; } = BenchModels.Full;

    /// <summary>Image side in pixels.</summary>
    [Params(512, 1024)]
    public int Size { get; set; } = 512;

    /// <summary>Builds the ControlNet (random weights) and its inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        using var checkpoint = BenchModels.Open(Model);
        var factor = checkpoint.Configs.Vae.DownscaleFactor;
        var widths = new[] { 16, 32, 96, 256 }.Take(1 + (int)Math.Log2(factor)).ToArray();
        torch.manual_seed(42);
        _controlnet = new SdxlControlNet(new ControlNetConfig { Unet = checkpoint.Configs.Unet, ConditioningEmbeddingOutChannels = widths });
        _controlnet.eval();
        _inputs = BenchInputs.Create(checkpoint.Configs, 1);
        using var _ = torch.inference_mode();
        var latent = Size / factor;
        _sample = torch.randn(1, checkpoint.Configs.Unet.OutChannels, latent, latent);
        _control = torch.rand(1, 3, Size, Size);
        _timestep = torch.tensor(new[] { 999f });
        _conditioning = _controlnet.ConditioningEmbedding(_inputs.Pooled, _inputs.TimeIds);
    }

    /// <summary>One ControlNet evaluation.</summary>
    [Benchmark]
    public void ControlNetResiduals()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _controlnet.Residuals(_sample, _timestep, _inputs.TextStates, _conditioning, _control, 1.0);
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _conditioning?.Dispose();
        _timestep?.Dispose();
        _control?.Dispose();
        _sample?.Dispose();
        _inputs?.Dispose();
        _controlnet?.Dispose();
    }
}
