using System.Text.Json;
using LcmLora.Tests.Checkpoints;
using Xunit;

namespace LcmLora.Tests.Cli;

[Trait("Category", "cli")]
public class InspectModelAndLoraTests : TempDirectoryTest
{
    [Theory]
    [InlineData("diffusers", "diffusers")]
    [InlineData("sgm/tiny_sdxl_sgm.safetensors", "sgm-single-file")]
    public void ModelJsonReportsCompleteMappingsForBothLayouts(string model, string layout)
    {
        var r = CliRunner.Run("inspect", Fixtures.Path("tiny-sdxl", model), "--json", "--config", Fixtures.TinyConfigDir);
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(layout, doc.RootElement.GetProperty("layout").GetString());
        var components = doc.RootElement.GetProperty("components");
        foreach (var c in new[] { "unet", "text_encoder", "text_encoder_2", "vae" })
        {
            var comp = components.GetProperty(c);
            Assert.True(comp.GetProperty("parameters").GetInt64() > 0);
            Assert.Equal(0, comp.GetProperty("missing").GetArrayLength());
            Assert.Equal(0, comp.GetProperty("unexpected").GetArrayLength());
        }
    }

    [Fact]
    public void FullSizeLcmLoraMatchesAFullSizeCheckpointFromHeadersAlone()
    {
        var model = Path.Combine(TempDir, "sdxl.safetensors");
        var sgm = Manifests.Sgm().ToList();
        sgm.Add(new("conditioner.embedders.1.model.logit_scale", []));
        SparseCheckpoint.Write(model, sgm);
        var lora = Path.Combine(TempDir, "lcm-lora.safetensors");
        using (var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "lcm-lora-sdxl-kohya-rank64.json"))))
            SparseCheckpoint.Write(lora, doc.RootElement.GetProperty("tensors").EnumerateObject()
                .Select(p => new KeyValuePair<string, long[]>(p.Name, p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray())).ToList());

        var r = CliRunner.Run("inspect", lora, "--model", model, "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var result = JsonDocument.Parse(r.Out);
        var l = result.RootElement.GetProperty("lora");
        Assert.Equal(788, l.GetProperty("modules").GetInt32());
        Assert.Equal(788, l.GetProperty("matched").GetInt32());
        Assert.Equal(0, l.GetProperty("unmatched").GetArrayLength());
        Assert.Equal(0, l.GetProperty("shape_mismatches").GetArrayLength());
        Assert.Contains("Kohya", l.GetProperty("format").GetString());

        var m = CliRunner.Run("inspect", model, "--json");
        using var modelDoc = JsonDocument.Parse(m.Out);
        Assert.Equal("sgm-single-file", modelDoc.RootElement.GetProperty("layout").GetString());
        Assert.Equal(2_567_463_684, modelDoc.RootElement.GetProperty("components").GetProperty("unet").GetProperty("parameters").GetInt64());
        Assert.Equal(0, modelDoc.RootElement.GetProperty("components").GetProperty("text_encoder_2").GetProperty("unexpected").GetArrayLength());
    }

    [Fact]
    public void LoraWithoutModelShowsFormatAndRank()
    {
        var r = CliRunner.Run("inspect", Fixtures.Path("lora", "lora_c.safetensors"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var l = doc.RootElement.GetProperty("lora");
        Assert.Contains("Peft", l.GetProperty("format").GetString());
        Assert.Equal(4, l.GetProperty("ranks")[0].GetInt32());
        Assert.All(l.GetProperty("alphas").EnumerateArray(), a => Assert.Equal(JsonValueKind.Number, a.ValueKind));
    }
}
