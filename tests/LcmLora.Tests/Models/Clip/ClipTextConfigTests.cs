using System.Text.Json;
using System.Text.Json.Nodes;
using LcmLora.Models.Clip;
using Xunit;

namespace LcmLora.Tests.Models.Clip;

[Trait("Category", "unit")]
public class ClipTextConfigTests
{
    [Fact]
    public void TinyClipLConfigHasNoProjectionDespiteProjectionDim()
    {
        var c = TinyClip.Config("text_encoder");
        Assert.Equal(new ClipTextConfig(49408, 32, 37, 5, 4, 77, ClipActivation.QuickGelu, 1e-5, null, 2), c);
        Assert.False(c.HasProjection);
        Assert.True(c.UsesLegacyPooling);
    }

    [Fact]
    public void TinyBigGConfigHasProjectionFromArchitectures()
    {
        var c = TinyClip.Config("text_encoder_2");
        Assert.Equal(new ClipTextConfig(49408, 40, 37, 5, 4, 77, ClipActivation.Gelu, 1e-5, 40, 2), c);
        Assert.True(c.HasProjection);
    }

    [Theory]
    [InlineData("text_encoder")]
    [InlineData("text_encoder_2")]
    public void PresetsEqualManifestConfigs(string component)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-diffusers.json")));
        var m = doc.RootElement.GetProperty("configs").GetProperty(component);
        var preset = component == "text_encoder" ? ClipTextConfig.SdxlClipL : ClipTextConfig.SdxlBigG;
        Assert.Equal(m.GetProperty("vocab_size").GetInt32(), preset.VocabSize);
        Assert.Equal(m.GetProperty("hidden_size").GetInt32(), preset.HiddenSize);
        Assert.Equal(m.GetProperty("intermediate_size").GetInt32(), preset.IntermediateSize);
        Assert.Equal(m.GetProperty("num_hidden_layers").GetInt32(), preset.NumHiddenLayers);
        Assert.Equal(m.GetProperty("num_attention_heads").GetInt32(), preset.NumAttentionHeads);
        Assert.Equal(m.GetProperty("max_position_embeddings").GetInt32(), preset.MaxPositionEmbeddings);
        Assert.Equal(m.GetProperty("hidden_act").GetString(), preset.HiddenAct.ConfigName());
        Assert.Equal(m.GetProperty("layer_norm_eps").GetDouble(), preset.LayerNormEps);
        Assert.Equal(m.GetProperty("eos_token_id").GetInt32(), preset.EosTokenId);
        // text_encoder is a CLIPTextModel (its projection_dim is unused); text_encoder_2 has the projection.
        Assert.Equal(component == "text_encoder" ? null : m.GetProperty("projection_dim").GetInt32(), preset.ProjectionDim);
    }

    [Fact]
    public void FullSizeConfigJsonsGiveThePresets()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-diffusers.json")));
        var configs = doc.RootElement.GetProperty("configs");
        var l = JsonNode.Parse(configs.GetProperty("text_encoder").GetRawText())!.AsObject();
        l["architectures"] = new JsonArray("CLIPTextModel");
        var g = JsonNode.Parse(configs.GetProperty("text_encoder_2").GetRawText())!.AsObject();
        g["architectures"] = new JsonArray("CLIPTextModelWithProjection");
        Assert.Equal(ClipTextConfig.SdxlClipL, FromText(l.ToJsonString()));
        Assert.Equal(ClipTextConfig.SdxlBigG, FromText(g.ToJsonString()));
    }

    [Fact]
    public void OptionalFieldsTakeTransformersDefaults()
    {
        var c = FromText("""{"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "unknown": [1]}""");
        Assert.Equal(new ClipTextConfig(49408, 8, 16, 2, 2, 77, ClipActivation.QuickGelu, 1e-5, null, 49407), c);
        Assert.False(c.UsesLegacyPooling);
        var p = FromText("""{"architectures": ["CLIPTextModelWithProjection"], "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2}""");
        Assert.Equal(512, p.ProjectionDim);
    }

    [Theory]
    [InlineData("""{"intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2}""", "hidden_size")]
    [InlineData("""{"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2}""", "num_attention_heads")]
    [InlineData("""{"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 3}""", "divisible")]
    [InlineData("""{"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "hidden_act": "relu"}""", "hidden_act")]
    [InlineData("""{"hidden_size": "8", "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2}""", "hidden_size")]
    [InlineData("""{"hidden_size": 8, "intermediate_size": 0, "num_hidden_layers": 2, "num_attention_heads": 2}""", "intermediate_size")]
    [InlineData("""[1, 2]""", "not a JSON object")]
    [InlineData("""{"hidden_size": 8,""", "not valid JSON")]
    public void BadConfigsAreRejectedNamingFileAndField(string json, string expected)
    {
        var path = Path.Combine(Path.GetTempPath(), $"clip-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            var e = Assert.ThrowsAny<LcmLoraInputException>(() => ClipTextConfig.FromJson(path));
            Assert.Contains(path, e.Message);
            Assert.Contains(expected, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingFileIsAnInputError()
    {
        var e = Assert.ThrowsAny<LcmLoraInputException>(() => ClipTextConfig.FromJson("/nonexistent/config.json"));
        Assert.Contains("/nonexistent/config.json", e.Message);
    }

    private static ClipTextConfig FromText(string json)
    {
        var path = Path.Combine(Path.GetTempPath(), $"clip-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try { return ClipTextConfig.FromJson(path); }
        finally { File.Delete(path); }
    }
}
