using LcmLora.Pipelines.Decoding;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Pipelines;

/// <summary>
/// Inpainting with a 4-channel UNet skips the masked image's VAE encode (the UNet ignores those latents) but must still
/// make the posterior sample's draw, because every later draw follows it: <c>SkipEncode</c> leaves the generator
/// exactly where <c>Encode</c> leaves it, for the VAE (which samples) and TAESD (which draws nothing).
/// </summary>
[Trait("Category", "unit")]
public class SkipEncodeTests
{
    [Theory]
    [InlineData(1, 32, 48)]
    [InlineData(2, 64, 32)]
    public void TheVaeSkipDrawsWhatTheEncodeDraws(int batch, int height, int width)
    {
        var decoder = LatentDecoders.Load(Fixtures.Path("tiny-sdxl", "diffusers", "vae"));
        Assert.IsType<VaeLatentDecoder>(decoder);
        AssertSameGeneratorState(decoder, batch, height, width);
    }

    [Fact]
    public void TheTaesdSkipDrawsNothingLikeItsEncode()
    {
        var decoder = LatentDecoders.Load(Fixtures.Path("taesd", "diffusers"));
        Assert.IsType<TaesdLatentDecoder>(decoder);
        AssertSameGeneratorState(decoder, 1, 32, 32);
    }

    private static void AssertSameGeneratorState(ILatentDecoder decoder, int batch, int height, int width)
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var images = torch.rand([batch, 3, height, width], generator: new torch.Generator(3)) * 2 - 1;
        using var encoded = new torch.Generator(42);
        using var skipped = new torch.Generator(42);
        decoder.Encode(images, encoded);
        decoder.SkipEncode(images, skipped);
        var next = torch.randn([64], generator: encoded);
        TensorAssert.Identical(next, torch.randn([64], generator: skipped));
        // And the skip does draw (for a sampling VAE): the state moved away from a fresh generator's.
        if (decoder is VaeLatentDecoder)
            Assert.False(next.allclose(torch.randn([64], generator: new torch.Generator(42))));
    }
}
