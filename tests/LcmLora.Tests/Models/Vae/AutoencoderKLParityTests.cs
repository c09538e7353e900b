using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Models.Vae;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Vae;

/// <summary>The tiny SDXL VAE against diffusers (fixtures/vae and fixtures/vae-tiled).</summary>
[Trait("Category", "parity")]
public sealed class AutoencoderKLParityTests(ITestOutputHelper output)
{
    private static string VaeFolder => Fixtures.Path("tiny-sdxl", "diffusers", "vae");

    internal static AutoencoderKL LoadTinyVae()
    {
        var vae = new AutoencoderKL(VaeConfig.FromJson(System.IO.Path.Combine(VaeFolder, "config.json")));
        WeightLoader.LoadDiffusers("vae", vae, System.IO.Path.Combine(VaeFolder, "diffusion_pytorch_model.safetensors"));
        vae.eval();
        return vae;
    }

    private void Compare(Tensor expected, Tensor actual, string what)
    {
        output.WriteLine($"{what}: max |diff| = {(actual - expected).abs().max().item<float>():E3}, max |ref| = {expected.abs().max().item<float>():E3}");
        TensorAssert.Close(expected, actual, 1e-4, what);
    }

    [Fact]
    public void DecodeMatchesDiffusers()
    {
        using var vae = LoadTinyVae();
        using var data = SafeTensorsFile.Open(Fixtures.Path("vae", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        Assert.Equal(0.13025, vae.Config.ScalingFactor);
        var decoded = vae.Decode(data.Read("latents") / vae.Config.ScalingFactor);
        Compare(data.Read("decoded_image"), decoded, "decoded_image");
    }

    [Theory]
    [InlineData("gs1_0")]
    [InlineData("gs1_5")]
    public void PipelineDecodeMatchesDiffusers(string pipelineCase)
    {
        using var vae = LoadTinyVae();
        using var data = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", pipelineCase, "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        Compare(data.Read("vae_decode_output_raw"), vae.Decode(data.Read("vae_decode_input")), $"{pipelineCase} vae_decode_output_raw");
    }

    [Fact]
    public void EncodeMatchesDiffusers()
    {
        using var vae = LoadTinyVae();
        using var data = SafeTensorsFile.Open(Fixtures.Path("vae", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var posterior = vae.Encode(data.Read("image_in"));
        Compare(data.Read("latent_mean"), posterior.Mean, "latent_mean");
        Compare(data.Read("latent_logvar"), posterior.LogVar, "latent_logvar");
        Compare(data.Read("latent_std"), posterior.Std, "latent_std");
    }

    [Fact]
    public void TiledDecodeMatchesDiffusers()
    {
        using var vae = LoadTinyVae();
        using var data = SafeTensorsFile.Open(Fixtures.Path("vae-tiled", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var latents = data.Read("latents") / vae.Config.ScalingFactor;
        var tiled = vae.DecodeTiled(latents, tileSampleSize: 16, overlap: 0.25);
        Compare(data.Read("decoded_tiled"), tiled, "decoded_tiled");
        var plain = vae.Decode(latents);
        Compare(data.Read("decoded_plain"), plain, "decoded_plain");
    }

    [Fact]
    public void TiledDecodeOfOneTileIsThePlainDecode()
    {
        using var vae = LoadTinyVae();
        using var data = SafeTensorsFile.Open(Fixtures.Path("vae", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var latents = data.Read("latents");
        TensorAssert.Identical(vae.Decode(latents), vae.DecodeTiled(latents, tileSampleSize: 32), "single tile");
    }

    [Fact]
    public void PosteriorSampleIsMeanPlusStdTimesGeneratorNoise()
    {
        using var vae = LoadTinyVae();
        using var data = SafeTensorsFile.Open(Fixtures.Path("vae", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var posterior = vae.Encode(data.Read("image_in"));
        var sample = posterior.Sample(new Generator(42));
        var noise = randn(posterior.Mean.shape, generator: new Generator(42));
        TensorAssert.Identical(posterior.Mean + posterior.Std * noise, sample, "posterior sample");
    }

    [Fact]
    public void WrongLatentChannelsAreRejected()
    {
        using var vae = LoadTinyVae();
        using var scope = NewDisposeScope();
        Assert.Throws<LcmLoraInputException>(() => vae.Decode(zeros(1, 3, 8, 8)));
        Assert.Throws<LcmLoraInputException>(() => vae.DecodeTiled(zeros(1, 4, 8, 8), tileSampleSize: 16, overlap: 1.0));
    }
}
