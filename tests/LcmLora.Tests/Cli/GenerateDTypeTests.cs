using System.Text.Json;
using LcmLora.Runtime;
using Xunit;

namespace LcmLora.Tests.Cli;

/// <summary><c>generate --dtype</c>: the default follows the hardware, the choice is printed and in the JSON summary with the stage timings.</summary>
[Trait("Category", "cli")]
public class GenerateDTypeTests : TempDirectoryTest
{
    private CliRunner.Result Generate(params string[] extra) => CliRunner.Run(
        ["generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--seed", "7", "--prompt", "a boat", "--width", "32", "--height", "32",
         "--out", Path.Combine(TempDir, "d.png"), .. extra]);

    [Fact]
    public void DefaultIsAutoAndTheJsonNamesTheDtypeActuallyUsed()
    {
        var r = Generate("--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var expected = ComputePrecisions.Choose(ComputePrecision.Auto).Name;
        Assert.Equal(expected, doc.RootElement.GetProperty("dtype").GetString());
        var timings = doc.RootElement.GetProperty("timings");
        foreach (var key in new[] { "load_s", "encode_s", "denoise_s", "decode_s" })
            Assert.True(timings.GetProperty(key).GetDouble() > 0, key);
        var seconds = doc.RootElement.GetProperty("seconds").GetDouble();
        var stages = timings.GetProperty("encode_s").GetDouble() + timings.GetProperty("denoise_s").GetDouble() + timings.GetProperty("decode_s").GetDouble();
        Assert.InRange(stages, 0, seconds + 1e-6);
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void ExplicitDtypeIsPrintedInTheProgressAndUsed(string dtype)
    {
        var r = Generate("--dtype", dtype);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains($"dtype {dtype} (requested)", r.Err);
        var slow = dtype == "bf16" && !CpuBf16Support.IsNative;
        Assert.Equal(slow, r.Err.Contains("very slow", StringComparison.Ordinal));
    }

    [Fact]
    public void UnknownDtypeExitsWithTwo()
    {
        var r = Generate("--dtype", "fp8", "--quiet");
        Assert.Equal(2, r.ExitCode);
    }
}
