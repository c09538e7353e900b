using LcmLora.Checkpoints;
using LcmLora.Imaging;
using LcmLora.Pipelines;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Pipelines;

/// <summary>Text-to-image pipelines do not hold the VAE encoder; image-to-image loads it from the checkpoint on first use.</summary>
[Trait("Category", "parity")]
public sealed class LazyVaeEncoderTests
{
    private static readonly GenerationRequest ImageToImage = new()
    {
        Prompt = "a lighthouse",
        Seed = 3,
        Width = 48,
        Height = 32,
        Strength = 0.6,
        ReturnTensors = true,
        InitImage = new RgbImage(48, 32, Enumerable.Range(0, 48 * 32 * 3).Select(i => (byte)(i * 5 % 256)).ToArray()),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EncoderIsLoadedOnFirstImageToImageAndGivesTheEagerResult(bool singleFile)
    {
        var path = singleFile ? Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors") : Fixtures.Path("tiny-sdxl", "diffusers");
        using var lazy = SdxlPipeline.Load(path, TinyPipelines.Fp32 with { ConfigDir = Fixtures.TinyConfigDir });
        using var eager = SdxlPipeline.Load(path, TinyPipelines.Fp32 with { PreloadVaeEncoder = true, ConfigDir = Fixtures.TinyConfigDir });
        Assert.False(lazy.Models.Vae.HasEncoderWeights);
        Assert.True(eager.Models.Vae.HasEncoderWeights);
        Assert.True(lazy.Decoder.CanEncode);

        using (var textToImage = lazy.Generate(ImageToImage with { InitImage = null, Strength = 1.0 }))
            Assert.False(lazy.Models.Vae.HasEncoderWeights);

        using var a = lazy.Generate(ImageToImage);
        using var b = eager.Generate(ImageToImage);
        Assert.True(lazy.Models.Vae.HasEncoderWeights);
        TensorAssert.Identical(b.ImageTensor!, a.ImageTensor!);
        var lazyState = lazy.Models.Vae.state_dict();
        foreach (var (name, value) in eager.Models.Vae.state_dict())
            TensorAssert.Identical(value, lazyState[name], name);
    }

    [Fact]
    public void EncodingWithoutEncoderWeightsIsRefusedWithTheRemedy()
    {
        using var checkpoint = SdxlCheckpoint.Open(Fixtures.Path("tiny-sdxl", "diffusers"));
        using var models = checkpoint.Load(vaeEncoder: false);
        using var image = torch.zeros(1, 3, 32, 32);
        var e = Assert.Throws<InvalidOperationException>(() => models.Vae.Encode(image));
        Assert.Contains("LoadVaeEncoder", e.Message);
        checkpoint.LoadVaeEncoder(models.Vae);
        using var posterior = models.Vae.Encode(image);
        var side = 32 / models.Vae.Config.DownscaleFactor;
        Assert.Equal(new long[] { 1, models.Vae.Config.LatentChannels, side, side }, posterior.Mean.shape);
    }
}
