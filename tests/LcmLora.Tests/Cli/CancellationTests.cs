using Xunit;

namespace LcmLora.Tests.Cli;

/// <summary>
/// Ctrl+C (SIGINT) while libtorch is busy: the CLI used to return from Main after a two-second grace period while a
/// worker thread was still inside a native kernel, and the process died with SIGSEGV (exit 139) instead of 130.
/// </summary>
[Trait("Category", "cli")]
public class CancellationTests : TempDirectoryTest
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    [Fact]
    public void InterruptDuringAStepExitsWith130AndLeavesNoImage()
    {
        if (!OperatingSystem.IsLinux()) return;
        var png = TempPath("c.png");
        // 256x256 on the tiny model: a step takes long enough for the signal to land inside the UNet.
        using var cli = CliProcess.Start("generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--prompt", "a boat", "--seed", "1",
            "--width", "256", "--height", "256", "--steps", "8", "--out", png);
        Assert.True(cli.WaitForErr("steps: 1/8", Patience), cli.Err);
        cli.Interrupt();
        var code = cli.WaitForExit(Patience);
        Assert.True(code == 130, $"exit {code?.ToString() ?? "none"}: {cli.Err}");
        Assert.Contains("lcmlora: cancelled.", cli.Err);
        Assert.False(File.Exists(png));
        Assert.Empty(Directory.GetFiles(TempDir));
    }

    [Fact]
    public void CancelledLoadThrowsBetweenTensorReads()
    {
        using var cancel = new CancellationTokenSource();
        var options = new LcmLora.Pipelines.PipelineOptions { Progress = new Cancelling(cancel, "text_encoder") };
        Assert.ThrowsAny<OperationCanceledException>(() => LcmLora.Pipelines.SdxlPipeline.Load(Fixtures.Path("tiny-sdxl", "diffusers"), options, cancel.Token));
    }

    [Theory]
    [InlineData("diffusers", "fused")]
    [InlineData("sgm/tiny_sdxl_sgm.safetensors", "fused.safetensors")]
    public void CancelledFuseLeavesNoOutputAndNoTemporaryFiles(string model, string output)
    {
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => LcmLora.Lora.CheckpointLoraFusion.Fuse(Fixtures.Path("tiny-sdxl", model),
            [new LcmLora.Lora.LoraSpec(Fixtures.Path("lora", "lora_c.safetensors"))], TempPath(output), progress: new Cancelling(cancel, "write"),
            cancellationToken: cancel.Token, configDir: model.StartsWith("sgm", StringComparison.Ordinal) ? Fixtures.TinyConfigDir : null));
        Assert.Empty(Directory.GetFileSystemEntries(TempDir));
    }

    /// <summary>Cancels when a progress report starts with the given stage (synchronously, on the reporting thread).</summary>
    private sealed class Cancelling(CancellationTokenSource cancel, string stage) : IProgress<string>
    {
        public void Report(string value)
        {
            if (value.StartsWith(stage, StringComparison.Ordinal)) cancel.Cancel();
        }
    }
}
