using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Imaging;
using LcmLora.Models;
using LcmLora.Models.Taesd;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Benchmarks.Decoding;

/// <summary>
/// Fast decoding: the full SDXL VAE (plain and tiled) against TAESD-XL at 512x512 and 1024x1024, and the cost of one
/// per-step preview (TAESD decode of the current estimate plus conversion to RGB8). Full-size SDXL VAE with random
/// weights from the benchmark checkpoint; TAESD-XL with random weights (the real architecture, 2.4 M parameters).
/// Each case runs in its own process, so "Run peak RSS" is that decode's peak.
/// </summary>
[Config(typeof(SingleShotConfig))]
public class DecoderBenchmarks
{
    private AutoencoderKL? _vae;
    private AutoencoderTiny? _taesd;
    private torch.Tensor _latents = null!;

    /// <summary>Image side in pixels.</summary>
    [Params(512, 1024)]
    public int Size { get; set; }

    /// <summary>Loads the decoders and makes latents for the size.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        using var checkpoint = BenchModels.Open(BenchModels.Full);
        _vae = BenchModels.LoadComponent<AutoencoderKL>(checkpoint, ModelComponent.Vae);
        torch.random.manual_seed(7);
        _taesd = new AutoencoderTiny(TaesdConfig.TaesdXl);
        _taesd.eval();
        _latents = torch.randn(new long[] { 1, 4, Size / 8, Size / 8 }, generator: new torch.Generator(11));
        // Warm both paths once (allocator, kernels) outside the single measured invocation.
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _taesd.Decode(_latents);
    }

    /// <summary>The full VAE, one decode, untiled.</summary>
    [Benchmark]
    public void VaeDecodePlain()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _vae!.Decode(_latents / 0.13025);
    }

    /// <summary>The full VAE, tiled as diffusers' tiled_decode with 512-pixel tiles and 0.25 overlap.</summary>
    [Benchmark]
    public void VaeDecodeTiled512()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _vae!.DecodeTiled(_latents / 0.13025, tileSampleSize: 512);
    }

    /// <summary>TAESD-XL decode of the raw latents.</summary>
    [Benchmark]
    public void TaesdDecode()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _taesd!.Decode(_latents);
    }

    /// <summary>What the pipeline adds per step with a preview decoder: TAESD decode, [0, 1], RGB8.</summary>
    [Benchmark]
    public void PreviewOneStep()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        ImageTensors.ToImages(_taesd!.Preview(_latents));
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _latents?.Dispose();
        _vae?.Dispose();
        _taesd?.Dispose();
    }
}
