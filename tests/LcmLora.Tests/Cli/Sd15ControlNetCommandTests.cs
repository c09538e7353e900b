using LcmLora.Imaging;
using LcmLora.Tests.Models.ControlNet;
using Xunit;

namespace LcmLora.Tests.Cli;

/// <summary><c>generate</c> with an SD 1.5 model and an original-layout SD 1.5 ControlNet single file.</summary>
[Trait("Category", "cli")]
public sealed class Sd15ControlNetCommandTests : TempDirectoryTest
{
    [Fact]
    public void Sd15ModelWithSingleFileControlNetWritesThePng()
    {
        var files = TinySd15ControlNet.Write(TempDir);
        var control = TempPath("edges.png");
        PngCodec.Save(ControlImages.Canny(PngCodec.Load(Fixtures.Path("controlnet-sdxl", "control_image.png"))), control);
        var output = TempPath("out.png");
        var r = CliRunner.Run("generate", "--model", Fixtures.Path("sd15", "diffusers"), "--controlnet", files.SingleFile + ":0.8", "--control-image", control,
            "--dtype", "fp32", "--prompt", "a lighthouse", "--seed", "3", "--width", "32", "--height", "32", "--out", output, "--quiet");
        Assert.True(r.ExitCode == 0, r.Err);
        var image = PngCodec.Load(output);
        Assert.Equal((32, 32), (image.Width, image.Height));
    }

    [Fact]
    public void SdxlModelWithSd15ControlNetIsAnInputError()
    {
        var files = TinySd15ControlNet.Write(TempDir);
        var output = TempPath("out.png");
        var r = CliRunner.Run("generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--controlnet", files.SingleFile, "--control-image",
            Fixtures.Path("controlnet-sdxl", "control_image.png"), "--dtype", "fp32", "--prompt", "x", "--width", "32", "--height", "32", "--out", output, "--quiet");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("cross_attention_dim", r.Err);
        Assert.Contains(files.SingleFile, r.Err);
        Assert.False(File.Exists(output));
    }
}
