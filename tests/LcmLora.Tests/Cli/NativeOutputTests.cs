using Xunit;

namespace LcmLora.Tests.Cli;

/// <summary>What libtorch itself prints to the process's standard error (only a child process shows it).</summary>
[Trait("Category", "cli")]
public class NativeOutputTests : TempDirectoryTest
{
    [Fact]
    public void GenerateDoesNotProbeNnpack()
    {
        // On CPUs NNPACK does not support, every convolution used to log "Could not initialize NNPACK! Reason:
        // Unsupported hardware." (142 lines per 4-step image). On supported CPUs nothing was printed either way.
        using var cli = CliProcess.Start("generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--prompt", "a boat", "--seed", "3",
            "--width", "32", "--height", "32", "--steps", "1", "--out", TempPath("n.png"));
        var code = cli.WaitForExit(TimeSpan.FromMinutes(3));
        Assert.True(code == 0, $"exit {code?.ToString() ?? "none"}: {cli.Err}");
        Assert.DoesNotContain("NNPACK", cli.Err);
        Assert.Contains("wrote", cli.Err);
    }
}
