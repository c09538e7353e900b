using LcmLora.Imaging;
using LcmLora.IO;
using LcmLora.Pipelines;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Pipelines;

/// <summary>StableDiffusionXLInpaintPipeline + LCM on the tiny model (fixtures/inpaint): 4-channel and 9-channel UNets.</summary>
[Trait("Category", "parity")]
public sealed class InpaintingPipelineTests
{
    private static readonly Lazy<SdxlPipeline> NineChannel = new(() =>
    {
        var pipeline = SdxlPipeline.Load(Fixtures.Path("tiny-sdxl", "diffusers"), TinyPipelines.Fp32);
        pipeline.LoadUnet(Fixtures.Path("sdxl-variants", "inpaint", "diffusers", "unet"));
        return pipeline;
    });

    private static SdxlPipeline Pipeline(string variant) => variant == "unet9_variant" ? NineChannel.Value : TinyPipelines.Folder;

    internal static GenerationRequest Request(double strength, ulong seed) => new()
    {
        Prompt = "a red apple on a wooden table",
        Seed = seed,
        Strength = strength,
        Width = 32,
        Height = 32,
        InitImage = PngCodec.Load(Fixtures.Path("inpaint", "init_image.png")),
        MaskImage = PngCodec.Load(Fixtures.Path("inpaint", "mask.png")),
        ReturnTensors = true,
    };

    [Theory]
    [InlineData("unet4_tiny_sdxl", "strength_1_0_seed_11", 1.0, 11UL)]
    [InlineData("unet4_tiny_sdxl", "strength_1_0_seed_12", 1.0, 12UL)]
    [InlineData("unet4_tiny_sdxl", "strength_0_75_seed_11", 0.75, 11UL)]
    [InlineData("unet9_variant", "strength_1_0_seed_11", 1.0, 11UL)]
    [InlineData("unet9_variant", "strength_1_0_seed_12", 1.0, 12UL)]
    [InlineData("unet9_variant", "strength_0_75_seed_11", 0.75, 11UL)]
    public void MatchesDiffusers(string variant, string caseName, double strength, ulong seed)
    {
        using var data = SafeTensorsFile.Open(Fixtures.Path("inpaint", variant, caseName, "data.safetensors"));
        using var result = Pipeline(variant).Generate(Request(strength, seed));
        var run = strength < 1 ? new float[] { 759, 499, 259 } : [999, 759, 499, 259];
        Assert.Equal(run, result.Timesteps);
        TensorAssert.MatchesPipelineFixture(data, result);
    }

    [Fact]
    public void FourChannelFinalLatentsKeepTheInitLatentsOutsideTheMask()
    {
        // The blend after the last step uses the init latents themselves: outside the mask the final latents are the
        // encoded init image (fixture check final_latents_outside_mask_eq_image_latents = 0). Two seeds sample the
        // VAE posterior differently, so compare each run with its own reference latents.
        using var data = SafeTensorsFile.Open(Fixtures.Path("inpaint", "unet4_tiny_sdxl", "strength_1_0_seed_11", "data.safetensors"));
        using var mask = data.Read("latent_mask");
        using var result = TinyPipelines.Folder.Generate(Request(1.0, 11));
        using var vaeInput = data.Read("vae_decode_input");
        using var outside = ((result.Latents! / 0.13025 - vaeInput) * (1 - mask)).abs().max();
        Assert.True(outside.item<float>() < 1e-4);
    }

    [Fact]
    public void KeepUnmaskedPastesTheInitImageBackOutsideTheMask()
    {
        using var inputs = SafeTensorsFile.Open(Fixtures.Path("inpaint", "inputs.safetensors"));
        using var init = inputs.Read("init_image");
        using var mask = inputs.Read("mask");
        using var result = TinyPipelines.Folder.Generate(Request(1.0, 11) with { KeepUnmasked = true });
        using var outside = ((result.ImageTensor! - init) * (1 - mask)).abs().max();
        Assert.True(outside.item<float>() < 1e-6, $"outside the mask: {outside.item<float>()}");
        using var data = SafeTensorsFile.Open(Fixtures.Path("inpaint", "unet4_tiny_sdxl", "strength_1_0_seed_11", "data.safetensors"));
        using var image = data.Read("image");
        using var inside = ((result.ImageTensor! - image) * mask).abs().max();
        Assert.True(inside.item<float>() < 1e-3, "inside the mask the generated pixels stay");
    }

    [Fact]
    public void MaskRulesFollowDiffusers()
    {
        // Grey-scaled, binarized at 0.5 for the latents, nearest-resized: the fixture's latent mask.
        using var data = SafeTensorsFile.Open(Fixtures.Path("inpaint", "unet4_tiny_sdxl", "strength_1_0_seed_11", "data.safetensors"));
        using var expected = data.Read("latent_mask");
        using var soft = InpaintingRun.SoftMask(PngCodec.Load(Fixtures.Path("inpaint", "mask.png")), 32, 32, 0);
        using var binary = soft.ge(0.5).to(torch.ScalarType.Float32);
        using var latent = torch.nn.functional.interpolate(binary, [16, 16], mode: torch.InterpolationMode.Nearest);
        TensorAssert.Identical(expected, latent, "latent_mask");
        using var blurred = InpaintingRun.SoftMask(PngCodec.Load(Fixtures.Path("inpaint", "mask.png")), 32, 32, 2);
        Assert.True(blurred[0, 0, 12, 7].item<float>() is > 0.05f and < 0.95f, "blur softens the edge");
    }

    [Fact]
    public void NineChannelUNetWithoutAMaskIsRejected()
    {
        var e = Assert.Throws<LcmLoraInputException>(() => NineChannel.Value.Generate(new GenerationRequest { Prompt = "x", Seed = 1, Width = 32, Height = 32 }));
        Assert.Contains("9 input channels", e.Message);
    }

    [Fact]
    public void MaskWithoutInitImageIsRejected()
    {
        var e = Assert.Throws<InvalidRequestException>(() => TinyPipelines.Folder.Generate(Request(1.0, 1) with { InitImage = null }));
        Assert.Contains("init image", e.Message);
    }
}
