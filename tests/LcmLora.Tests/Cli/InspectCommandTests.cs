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
        var r = CliRunner.Run("inspect", file, "--json");
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
        var r = CliRunner.Run("inspect", Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("model.diffusion_model.time_embed.0.weight", r.Out);
        Assert.Contains("tensors", r.Out);
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
