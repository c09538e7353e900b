using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Pipelines;

namespace LcmLora.Benchmarks.Pipeline;

/// <summary>
/// A whole text-to-image generation at 64x64 latents (SDXL: 512x512; the tiny model, whose VAE scales by 2: 128x128)
/// through <see cref="SdxlPipeline.Generate"/> with its defaults: LCM, 4 steps, guidance 1 (no CFG): prompt encoding,
/// 4 UNet steps, VAE decode, conversion to an image. Loading is excluded (global setup). Run peak RSS is the peak of
/// the process during generations with the model loaded.
/// </summary>
[Config(typeof(ShortJobConfig))]
public class GenerationBenchmarks
{
    private SdxlPipeline _pipeline = null!;
    private int _size;

    /// <summary>Which model.</summary>
    [ParamsSource(typeof(BenchModels), nameof(BenchModels.Selected))]
    public string Model { get; set; } = BenchModels.Full;

    /// <summary>Loads the pipeline.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _pipeline = BenchPipelines.Load(Model);
        _size = BenchSizes.Latent * _pipeline.Models.Configs.LatentScale;
    }

    /// <summary>One image.</summary>
    [Benchmark, Flops(Work.Image512Lcm4)]
    public void GenerateLcm4Steps64x64Latents()
    {
        using var result = _pipeline.Generate(new GenerationRequest
        {
            Prompt = BenchPipelines.Prompt,
            Steps = 4,
            GuidanceScale = 1.0,
            Width = _size,
            Height = _size,
            Seed = 1,
        });
    }

    /// <summary>Frees the pipeline.</summary>
    [GlobalCleanup]
    public void Cleanup() => _pipeline?.Dispose();
}
