using LcmLora.IO;
using Xunit;

namespace LcmLora.Tests.Cli;

/// <summary><c>generate</c> with inpainting and ControlNet options reproduces the diffusers fixtures.</summary>
[Trait("Category", "cli")]
public class InpaintControlNetCommandTests : TempDirectoryTest
{
    private string Out(string name) => Path.Combine(TempDir, name);

    /// <summary>Runs generate with <paramref name="args"/> and compares its image with the fixture's within 1e-3.</summary>
    private void ImageMatches(string reference, params string[] args)
    {
        var r = CliRunner.Run([.. args, "--save-tensor", Out("ours.safetensors"), "--out", Out("ours.png"), "--quiet"]);
        Assert.True(r.ExitCode == 0, r.Err);
        using var ours = SafeTensorsFile.Open(Out("ours.safetensors"));
        using var expected = SafeTensorsFile.Open(reference);
        TensorAssert.CloseAbs(expected.Read("image"), ours.Read("image"), 1e-3);
    }

    [Fact]
    public void InpaintingReproducesDiffusers()
    {
        ImageMatches(Fixtures.Path("inpaint", "unet4_tiny_sdxl", "strength_0_75_seed_11", "data.safetensors"),
            "generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--dtype", "fp32", "--seed", "11", "--prompt", "a red apple on a wooden table",
            "--width", "32", "--height", "32", "--init-image", Fixtures.Path("inpaint", "init_image.png"), "--mask-image", Fixtures.Path("inpaint", "mask.png"),
            "--strength", "0.75");
    }

    [Fact]
    public void NineChannelInpaintingUNetThroughUnetReproducesDiffusers()
    {
        ImageMatches(Fixtures.Path("inpaint", "unet9_variant", "strength_1_0_seed_12", "data.safetensors"),
            "generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--dtype", "fp32", "--unet", Fixtures.Path("sdxl-variants", "inpaint", "diffusers", "unet"),
            "--seed", "12", "--prompt", "a red apple on a wooden table", "--width", "32", "--height", "32",
            "--init-image", Fixtures.Path("inpaint", "init_image.png"), "--mask-image", Fixtures.Path("inpaint", "mask.png"),
            "--strength", "1.0");
    }

    [Fact]
    public void ControlNetReproducesDiffusers()
    {
        ImageMatches(Fixtures.Path("controlnet-sdxl", "scale_0_5", "data.safetensors"),
            "generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--dtype", "fp32", "--seed", "77", "--prompt", "a house on a hill",
            "--width", "32", "--height", "32", "--controlnet", Fixtures.Path("controlnet-sdxl", "controlnet") + ":0.5",
            "--control-image", Fixtures.Path("controlnet-sdxl", "control_image.png"));
    }

    [Fact]
    public void ControlImageWithoutControlNetIsAnInputError()
    {
        var r = CliRunner.Run("generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--dtype", "fp32", "--prompt", "x", "--width", "32", "--height", "32",
            "--control-image", Fixtures.Path("controlnet-sdxl", "control_image.png"), "--out", Out("e.png"), "--quiet");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--controlnet", r.Err);
        Assert.False(File.Exists(Out("e.png")));
    }
}
