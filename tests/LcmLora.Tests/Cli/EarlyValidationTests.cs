using Xunit;

namespace LcmLora.Tests.Cli;

/// <summary>
/// Everything the CLI can check without the weights fails before they load (a full-size load takes up to a minute),
/// with one message naming the option. "load:" progress lines in the output would mean the model was loading.
/// </summary>
[Trait("Category", "cli")]
public class EarlyValidationTests : TempDirectoryTest
{
    private static string Model => Fixtures.Path("tiny-sdxl", "diffusers");

    private CliRunner.Result Generate(params string[] extra) =>
        CliRunner.Run(["generate", "--model", Model, "--prompt", "a boat", "--out", TempPath("x.png"), .. extra]);

    [Theory]
    [InlineData("--steps 0", "--steps")]
    [InlineData("--guidance NaN", "--guidance")]
    [InlineData("--guidance -1", "--guidance")]
    [InlineData("--width 33", "--width")]
    [InlineData("--height 100000", "at most 4096")]
    [InlineData("--batch 0", "--batch")]
    [InlineData("--seed -1", "--seed -1: expected a whole number from 0")]
    [InlineData("--steps many", "--steps many: expected a whole number")]
    [InlineData("--steps 60", "--scheduler euler")]
    [InlineData("--preview-dir previews", "--preview-dir needs TAESD-XL")]
    [InlineData("--timesteps 499,999", "--timesteps: must be strictly descending")]
    [InlineData("--timesteps 1000", "--timesteps: must be in 0..999")]
    [InlineData("--timesteps 999,x", "'x' is not a whole number")]
    public void InvalidOptionsFailBeforeLoadingAndNameTheOption(string args, string expected)
    {
        var r = Generate(args.Split(' '));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Err);
        Assert.DoesNotContain("load:", r.Err);
        Assert.DoesNotContain("System.", r.Err);
    }

    [Fact]
    public void ALoraWeightThatIsNotANumberIsNamedAsSuch()
    {
        var r = Generate("--lora", Fixtures.Path("lora", "lora_c.safetensors") + ":abc");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("the weight 'abc' is not a number", r.Err);
    }

    [Fact]
    public void AFileThatIsNotALoraFailsBeforeLoading()
    {
        var r = Generate("--lora", Fixtures.Path("unet-forward", "data.safetensors"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("data.safetensors", r.Err);
        Assert.DoesNotContain("load:", r.Err);
    }

    [Fact]
    public void ATextFileNamedSafetensorsIsNotASafetensorsFile()
    {
        File.WriteAllText(TempPath("notes.safetensors"), "these are my notes about LoRAs\n");
        var r = Generate("--lora", TempPath("notes.safetensors"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not a safetensors file", r.Err);
    }

    [Fact]
    public void AnExistingOutputNeedsForce()
    {
        File.WriteAllText(TempPath("x.png"), "mine");
        var r = Generate();
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--force", r.Err);
        Assert.DoesNotContain("load:", r.Err);
        Assert.Equal("mine", File.ReadAllText(TempPath("x.png")));
    }

    [Fact]
    public void AnOutputThatIsADeviceNodeIsRefusedEvenWithForce()
    {
        if (!OperatingSystem.IsLinux()) return;
        var r = CliRunner.Run("generate", "--model", Model, "--prompt", "a boat", "--out", "/dev/null", "--force");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not a regular file", r.Err);
        Assert.DoesNotContain("load:", r.Err);
    }

    [Fact]
    public void FuseOutputEqualToTheInputOrAFolderFailsBeforeLoading()
    {
        var input = Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors");
        var lora = Fixtures.Path("lora", "lora_a.safetensors");
        var same = CliRunner.Run("fuse", "--model", input, "--lora", lora, "--out", input, "--force", "--config", Fixtures.TinyConfigDir);
        Assert.Equal(2, same.ExitCode);
        Assert.Contains("overwrite the input", same.Err);
        Assert.DoesNotContain("fuse:", same.Err);
        var folder = CliRunner.Run("fuse", "--model", input, "--lora", lora, "--out", TempDir, "--force", "--config", Fixtures.TinyConfigDir);
        Assert.Equal(2, folder.ExitCode);
        Assert.Contains("is a folder", folder.Err);
        Assert.DoesNotContain("fuse:", folder.Err);
    }

    [Fact]
    public void LongPromptWarningNamesTheChunkOption()
    {
        var prompt = string.Join(' ', Enumerable.Repeat("a lighthouse on a cliff", 30));
        var r = CliRunner.Run("generate", "--model", Model, "--prompt", prompt, "--out", TempPath("x.png"), "--width", "32", "--height", "32", "--steps", "1", "--quiet");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("--chunk-prompts", r.Err);
    }

    [Fact]
    public void NonFiniteImageFromAnAbsurdLoraWeightIsBadInputNamingTheWeight()
    {
        var r = Generate("--lora", Fixtures.Path("lora", "lora_c.safetensors") + ":-1e30", "--width", "32", "--height", "32", "--steps", "1", "--quiet");
        Assert.True(r.ExitCode == 2, r.Err);
        Assert.Contains("lora_c", r.Err);
        Assert.Contains("-1E+30", r.Err);
    }
}
