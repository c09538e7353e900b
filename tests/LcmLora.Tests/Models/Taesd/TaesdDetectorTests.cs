using LcmLora.Checkpoints.Taesd;
using LcmLora.IO;
using LcmLora.Models.Taesd;
using Xunit;

namespace LcmLora.Tests.Models.Taesd;

/// <summary>TAESD is told from AutoencoderKL and other checkpoints by keys alone.</summary>
[Trait("Category", "unit")]
public class TaesdDetectorTests
{
    private static List<string> Keys(string file)
    {
        using var f = SafeTensorsFile.Open(file);
        return f.Tensors.Select(t => t.Name).ToList();
    }

    [Fact]
    public void DiffusersLayoutIsTaesdWithBothHalves()
    {
        var keys = Keys(TaesdFixture.DiffusersWeights);
        Assert.True(TaesdDetector.LooksLikeTaesd(keys));
        Assert.Equal(new TaesdDetection(TaesdLayout.Diffusers, TaesdParts.Both), TaesdDetector.Detect(keys));
        Assert.False(TaesdDetector.LooksLikeAutoencoderKl(keys));
    }

    [Fact]
    public void DiffusersLayoutWithOneHalfIsThatHalf()
    {
        var decoderOnly = Keys(TaesdFixture.DiffusersWeights).Where(k => k.StartsWith("decoder.", StringComparison.Ordinal));
        Assert.Equal(new TaesdDetection(TaesdLayout.Diffusers, TaesdParts.Decoder), TaesdDetector.Detect(decoderOnly));
    }

    [Fact]
    public void OriginalFilesAreTaesdHalves()
    {
        Assert.Equal(new TaesdDetection(TaesdLayout.Original, TaesdParts.Encoder), TaesdDetector.Detect(Keys(TaesdFixture.EncoderFile)));
        Assert.Equal(new TaesdDetection(TaesdLayout.Original, TaesdParts.Decoder), TaesdDetector.Detect(Keys(TaesdFixture.DecoderFile)));
    }

    [Fact]
    public void TinySdxlDiffusersVaeIsNotTaesd()
    {
        var keys = Keys(Fixtures.Path("tiny-sdxl", "diffusers", "vae", "diffusion_pytorch_model.safetensors"));
        Assert.False(TaesdDetector.LooksLikeTaesd(keys));
        Assert.Null(TaesdDetector.Detect(keys));
        Assert.True(TaesdDetector.LooksLikeAutoencoderKl(keys));
    }

    [Fact]
    public void TinySdxlSingleFileIsNotTaesd()
    {
        var keys = Keys(Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors"));
        Assert.False(TaesdDetector.LooksLikeTaesd(keys));
        Assert.True(TaesdDetector.LooksLikeAutoencoderKl(keys));
        // Its VAE alone, with the prefix stripped, is still an AutoencoderKL and not TAESD.
        var vae = keys.Where(k => k.StartsWith("first_stage_model.", StringComparison.Ordinal)).Select(k => k["first_stage_model.".Length..]).ToList();
        Assert.NotEmpty(vae);
        Assert.False(TaesdDetector.LooksLikeTaesd(vae));
        Assert.True(TaesdDetector.LooksLikeAutoencoderKl(vae));
    }

    [Fact]
    public void OtherKeySetsAreNotTaesd()
    {
        Assert.False(TaesdDetector.LooksLikeTaesd([]));
        Assert.False(TaesdDetector.LooksLikeTaesd(Keys(Fixtures.Path("tiny-sdxl", "diffusers", "unet", "diffusion_pytorch_model.safetensors"))));
        // A plain numbered Sequential of convs without TAESD blocks.
        Assert.False(TaesdDetector.LooksLikeTaesd(["0.weight", "0.bias", "2.weight", "2.bias"]));
        // A TAESD file with one foreign key.
        Assert.False(TaesdDetector.LooksLikeTaesd([.. Keys(TaesdFixture.EncoderFile), "vae_scale"]));
        // Original-style blocks but neither an encoder head (0.weight) nor a decoder head (1.weight without index 0).
        Assert.False(TaesdDetector.LooksLikeTaesd(["2.conv.0.weight", "2.conv.0.bias", "3.weight"]));
    }
}
