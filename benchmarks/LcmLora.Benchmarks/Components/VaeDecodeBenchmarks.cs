using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Models;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Benchmarks.Components;

/// <summary>
/// VAE decode of one 64x64 latent (plain, untiled <see cref="AutoencoderKL.Decode"/>): a 512x512 image for SDXL
/// (the tiny VAE scales by 2: 128x128).
/// </summary>
[Config(typeof(ShortJobConfig))]
public class VaeDecodeBenchmarks
{
    private AutoencoderKL _vae = null!;
    private torch.Tensor _latents = null!;

    /// <summary>Which model.</summary>
    [ParamsSource(typeof(BenchModels), nameof(BenchModels.Selected))]
    public string Model { get; set; } = BenchModels.Full;

    /// <summary>Loads the VAE only.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        using var checkpoint = BenchModels.Open(Model);
        _vae = BenchModels.LoadComponent<AutoencoderKL>(checkpoint, ModelComponent.Vae);
        using var inputs = BenchInputs.Create(checkpoint.Configs, 1);
        _latents = inputs.Latents / checkpoint.Configs.Vae.ScalingFactor;
    }

    /// <summary>One decode.</summary>
    [Benchmark, Flops(Work.VaeDecode)]
    public void VaeDecode64x64Latents()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _vae.Decode(_latents);
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _latents?.Dispose();
        _vae?.Dispose();
    }
}
