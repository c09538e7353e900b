using System.Text.Json;
using LcmLora.IO;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Cli;

[Trait("Category", "cli")]
public class GenerateCommandTests : TempDirectoryTest
{
    private string Out(string name) => Path.Combine(TempDir, name);

    [Fact]
    public void EveryProgressLineIsWrittenBeforeTheCommandReturns()
    {
        // Progress reports used to be posted to the thread pool: the last ones could land after the command had
        // returned and its output was closed (a crash of the test host).
        var r = CliRunner.Run("generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--seed", "7", "--prompt", "a boat",
            "--width", "32", "--height", "32", "--out", Out("p.png"));
        Assert.True(r.ExitCode == 0, r.Err);
        var text = r.Out + r.Err;
        var lastLoad = text.IndexOf("load: 4/4 vae", StringComparison.Ordinal);
        Assert.True(lastLoad >= 0, text);
        Assert.True(lastLoad < text.IndexOf("steps: 1/4", StringComparison.Ordinal), text);
    }

    [Theory]
    [InlineData("diffusers")]
    [InlineData("sgm/tiny_sdxl_sgm.safetensors")]
    public void SeedPathImageIsReproducedFromBothLayouts(string model)
    {
        var r = CliRunner.Run("generate", "--model", Fixtures.Path("tiny-sdxl", model), "--seed", "2024", "--prompt", "a lighthouse on a cliff at sunset",
            "--dtype", "fp32", "--width", "48", "--height", "32", "--save-tensor", Out("x.safetensors"), "--out", Out("x.png"), "--quiet", "--config", Fixtures.TinyConfigDir);
        Assert.True(r.ExitCode == 0, r.Err);
        using var ours = SafeTensorsFile.Open(Out("x.safetensors"));
        using var reference = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", "seed_path", "data.safetensors"));
        TensorAssert.CloseAbs(reference.Read("image"), ours.Read("image"), 1e-3);
        Assert.Equal(new long[] { 1, 4, 16, 24 }, ours.Info("latents").Shape);
        Assert.True(File.Exists(Out("x.png")));
    }

    [Theory]
    [InlineData("original")]
    [InlineData("diffusers")]
    public void TaesdDecoderReproducesItsPipelineCase(string layout)
    {
        var r = CliRunner.Run("generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--vae", Fixtures.Path("taesd", layout), "--seed", "4242", "--dtype", "fp32",
            "--prompt", "a small wooden cabin in a pine forest", "--width", "128", "--height", "128", "--save-tensor", Out("t.safetensors"), "--out", Out("t.png"),
            "--preview-dir", Out("previews"), "--quiet");
        Assert.True(r.ExitCode == 0, r.Err);
        using var ours = SafeTensorsFile.Open(Out("t.safetensors"));
        using var reference = SafeTensorsFile.Open(Fixtures.Path("taesd", "pipeline_seed_path", "data.safetensors"));
        TensorAssert.CloseAbs(reference.Read("image"), ours.Read("image"), 1e-3);
        Assert.Equal(4, Directory.GetFiles(Out("previews"), "step_*.png").Length);
    }

    [Fact]
    public void ExplicitLatentsFileAndGeneratorReproduceGuidedCase()
    {
        using var reference = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", "gs1_5", "data.safetensors"));
        SafeTensorsWriter.Save(Out("lat.safetensors"), new Dictionary<string, torch.Tensor> { ["latents"] = reference.Read("initial_latents") });
        var r = CliRunner.Run("generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--latents", Out("lat.safetensors"), "--seed", "1234", "--dtype", "fp32",
            "--guidance", "1.5", "--prompt", "a tiny red fox in the snow", "--width", "32", "--height", "32", "--save-tensor", Out("g.safetensors"),
            "--out", Out("g.png"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var ours = SafeTensorsFile.Open(Out("g.safetensors"));
        TensorAssert.CloseAbs(reference.Read("image"), ours.Read("image"), 1e-3);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(4, doc.RootElement.GetProperty("timesteps").GetArrayLength());
    }

    [Fact]
    public void CustomTimestepsReplaceTheStepCount()
    {
        var r = CliRunner.Run("generate", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--timesteps", "999,499", "--seed", "3",
            "--prompt", "a cat", "--width", "32", "--height", "32", "--out", Out("t.png"), "--json", "--quiet");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal([999.0, 499.0], doc.RootElement.GetProperty("timesteps").EnumerateArray().Select(t => t.GetDouble()).ToArray());
    }

    [Fact]
    public void WithoutAModelTheBuiltInTinyModelDrawsABatch()
    {
        var r = CliRunner.Run("generate", "--prompt", "a cat", "--batch", "2", "--out", Out("cat.png"), "--seed", "7");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("built-in tiny", r.Err);
        Assert.True(File.Exists(Out("cat_0.png")) && File.Exists(Out("cat_1.png")));
    }

    [Theory]
    [InlineData("--model", "/nonexistent/model.safetensors")]
    [InlineData("--width", "50")]
    [InlineData("--scheduler", "ddim")]
    [InlineData("--lora", "/nonexistent/lora.safetensors")]
    public void BadInputExitsWithTwo(string option, string value)
    {
        var r = CliRunner.Run("generate", "--prompt", "a cat", option, value, "--out", Out("bad.png"), "--quiet");
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
