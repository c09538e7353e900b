using System.Text.Json;
using Xunit;

namespace LcmLora.Tests.Cli;

[Trait("Category", "cli")]
public class InspectCommandTests : TempDirectoryTest
{
    [Fact]
    public void JsonListsEveryTensorWithCountsAndMetadata()
    {
        var file = Fixtures.Path("unet-forward", "data.safetensors");
        var r = CliRunner.Run("inspect", file, "--json", "--tensors");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var tensors = doc.RootElement.GetProperty("tensors");
        using var st = LcmLora.IO.SafeTensorsFile.Open(file);
        Assert.Equal(st.Tensors.Count, tensors.GetArrayLength());
        Assert.Equal(st.Tensors.Count, doc.RootElement.GetProperty("tensor_count").GetInt32());
        Assert.Equal(st.Tensors.Sum(t => t.ElementCount), doc.RootElement.GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void TextListsTensors()
    {
        var r = CliRunner.Run("inspect", Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors"), "--tensors");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("model.diffusion_model.time_embed.0.weight", r.Out);
        Assert.Contains("tensors", r.Out);
    }

    [Theory]
    [InlineData("sgm/tiny_sdxl_sgm.safetensors")]
    [InlineData("diffusers")]
    public void SingleFilesAndFoldersPrintTheSameShortSummaryByDefault(string model)
    {
        var r = CliRunner.Run("inspect", Fixtures.Path("tiny-sdxl", model));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.DoesNotContain("model.diffusion_model.time_embed.0.weight", r.Out);
        Assert.Contains("unet:", r.Out);
        Assert.DoesNotContain("other: 0 parameters", r.Out);
        Assert.True(r.Out.Split('\n').Length < 15, r.Out);
    }

    [Fact]
    public void EveryJsonReportNamesThePathFieldPath()
    {
        foreach (var path in new[] { Fixtures.Path("unet-forward", "data.safetensors"), Fixtures.Path("tiny-sdxl", "diffusers"),
                     Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors"), Fixtures.Path("lora", "lora_c.safetensors") })
        {
            var r = CliRunner.Run("inspect", path, "--json");
            Assert.True(r.ExitCode == 0, r.Err);
            using var doc = JsonDocument.Parse(r.Out);
            Assert.False(doc.RootElement.TryGetProperty("file", out _), path);
            Assert.EndsWith(Path.GetFileName(path), doc.RootElement.GetProperty("path").GetString());
        }
    }

    [Fact]
    public void PipedTextIsNotWrappedInMidPhrase()
    {
        var dir = Directory.CreateDirectory(Path.Combine(TempDir, "a-folder-with-a-long-name-so-that-the-line-is-longer-than-eighty-columns")).FullName;
        var lora = Path.Combine(dir, "lora_c.safetensors");
        File.Copy(Fixtures.Path("lora", "lora_c.safetensors"), lora);
        var r = CliRunner.Run("inspect", lora);
        Assert.True(r.ExitCode == 0, r.Err);
        var line = r.Out.Split('\n').Single(l => l.StartsWith("LoRA", StringComparison.Ordinal));
        Assert.Contains("modules", line);
        Assert.True(line.Length > 80, line);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("lying")]
    [InlineData("pickle")]
    [InlineData("missing")]
    public void BadInputExitsWithTwoAndOneLineNamingTheFile(string kind)
    {
        var path = Path.Combine(TempDir, kind == "pickle" ? "model.ckpt" : kind + ".safetensors");
        var valid = File.ReadAllBytes(Fixtures.Path("unet-forward", "data.safetensors"));
        switch (kind)
        {
            case "truncated": File.WriteAllBytes(path, valid[..(valid.Length / 2)]); break;
            case "lying": File.WriteAllBytes(path, [.. BitConverter.GetBytes(1UL << 40), .. valid[8..]]); break;
            case "pickle": File.WriteAllBytes(path, [0x80, 0x02, 0x7d, 0x71, 0x00]); break;
        }
        var r = CliRunner.Run("inspect", path);
        Assert.Equal(2, r.ExitCode);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(path, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
    }
}
