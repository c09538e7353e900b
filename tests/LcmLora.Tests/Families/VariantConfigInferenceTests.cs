using System.Text.Json;
using System.Text.Json.Nodes;
using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Models;
using LcmLora.Tests.Checkpoints;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Families;

/// <summary>
/// SDXL-family variants (fixtures/sdxl-variants: SSD-1B-like, refiner-like, inpainting) and full-size manifests: the
/// configs are read from the tensor shapes and must equal what diffusers' configs say.
/// </summary>
[Trait("Category", "unit")]
public sealed class VariantConfigInferenceTests : TempDirectoryTest
{
    public static TheoryData<string> Variants => new() { "ssd1b_like", "refiner_like", "inpaint" };

    private static string Sgm(string v) => Fixtures.Path("sdxl-variants", v, "sgm", v + "_sgm.safetensors");
    private static string Folder(string v) => Fixtures.Path("sdxl-variants", v, "diffusers");

    private static JsonElement Case(string v) => JsonDocument.Parse(File.ReadAllText(Fixtures.Path("sdxl-variants", v, "case.json"))).RootElement;

    [Theory]
    [MemberData(nameof(Variants))]
    public void BothLayoutsMapCompletelyAndTheShapesGiveTheCaseConfig(string variant)
    {
        foreach (var singleFile in new[] { true, false })
        {
            using var ckpt = SdxlCheckpoint.Open(singleFile ? Sgm(variant) : Folder(variant), configDir: singleFile ? Folder(variant) : null);
            Assert.All(ckpt.Inspect(), r => Assert.True(r.IsComplete, $"{variant} {r.Component}: {string.Join(", ", r.Missing.Concat(r.Unexpected).Concat(r.ShapeMismatches))}"));
            var counts = Case(variant).GetProperty("param_counts");
            foreach (var r in ckpt.Inspect().Where(r => r.Component != "other"))
                Assert.Equal(counts.GetProperty(r.Component).GetInt64(), r.Parameters);
            Assert.Equal(variant == "refiner_like" ? ModelFamily.SdxlRefiner.Name : ModelFamily.Sdxl.Name, ckpt.Family.Name);
            // The typed config built from shapes + the supplied open fields equals the one diffusers saved.
            // (Transformer depths are compared in InferredFieldsEqualTheCaseJson: diffusers writes meaningless 1s or the mid depth
            // at blocks without attention, so the refiner's saved "2" and the inferred [1, 2, 2, 2] build the same model.)
            var saved = SdxlConfigs.FromFolderComponents(Folder(variant));
            Assert.Equal(ConfigAssert.Json(saved.Unet with { Source = "", TransformerLayersPerBlock = [], ReverseTransformerLayersPerBlock = [] }),
                ConfigAssert.Json(ckpt.Configs.Unet with { Source = "", TransformerLayersPerBlock = [], ReverseTransformerLayersPerBlock = [] }));
            using (var a = new LcmLora.Models.Unet.SdxlUNet(saved.Unet, torch.device("meta")))
            using (var b = new LcmLora.Models.Unet.SdxlUNet(ckpt.Configs.Unet, torch.device("meta")))
                Assert.Equal(a.state_dict().Select(kv => $"{kv.Key} {string.Join("x", kv.Value.shape)}"), b.state_dict().Select(kv => $"{kv.Key} {string.Join("x", kv.Value.shape)}"));
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void InferredFieldsEqualTheCaseJson(string variant)
    {
        using var ckpt = SdxlCheckpoint.OpenForInspection(Sgm(variant));
        var unet = ckpt.ConfigReports.Single(r => r.Component == "unet");
        var expected = Case(variant).GetProperty("inferred_from_sgm_shapes");
        foreach (var field in new[] { "in_channels", "out_channels", "time_cond_proj_dim", "projection_class_embeddings_input_dim", "layers_per_block",
                     "block_out_channels", "down_block_types", "up_block_types", "mid_block_type", "cross_attention_dim", "use_linear_projection",
                     "transformer_layers_per_block", "reverse_transformer_layers_per_block" })
        {
            Assert.True(ConfigResolver.Equivalent(JsonNode.Parse(expected.GetProperty(field).GetRawText()), unet.Config[field]),
                $"{variant} {field}: expected {expected.GetProperty(field)}, inferred {unet.Config[field]?.ToJsonString() ?? "null"}");
            Assert.Equal(ComponentConfigReport.FromShapes, unet.Sources[field]);
        }
        // The tiny models use 8-wide heads: no family default fits, so inspection names the field and still maps every tensor.
        Assert.Contains("attention_head_dim", unet.Missing);
        Assert.False(ckpt.HasCompleteConfigs);
        Assert.All(ckpt.Inspect(), r => Assert.True(r.IsComplete, r.Component));
        var te = ckpt.ConfigReports.Single(r => r.Component == "text_encoder_2");
        Assert.Equal(1000, te.Config["vocab_size"]!.GetValue<int>());
        Assert.Throws<ModelConfigException>(() => SdxlCheckpoint.Open(Sgm(variant)));
    }

    [Fact]
    public void ASuppliedConfigThatContradictsTheShapesIsAClearError()
    {
        var e = Assert.Throws<ModelConfigException>(() => SdxlCheckpoint.Open(Sgm("inpaint"), configDir: Folder("ssd1b_like")));
        Assert.Contains("in_channels", e.Message);
        Assert.Contains("9", e.Message);
        Assert.Contains(Path.Combine("ssd1b_like", "diffusers", "unet", "config.json"), e.Message);
    }

    public static TheoryData<string, string, long> FullSize => new()
    {
        { "ssd-1b-sgm.json", "sdxl", 1_331_334_404 },
        { "segmind-vega-sgm.json", "sdxl", 745_225_604 },
        { "sdxl-refiner-sgm.json", "sdxl-refiner", 2_259_526_660 },
        { "sd15-ldm.json", "sd15", 859_520_964 },
    };

    [Theory]
    [MemberData(nameof(FullSize))]
    public void FullSizeManifestsMapCompletelyWithNoConfig(string manifest, string family, long unetParameters)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", manifest)));
        var path = Path.Combine(TempDir, "model.safetensors");
        SparseCheckpoint.Write(path, doc.RootElement.GetProperty("tensors").EnumerateObject()
            .Select(p => new KeyValuePair<string, long[]>(p.Name, p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray())).ToList());
        using var ckpt = SdxlCheckpoint.Open(path);
        Assert.Equal(family, ckpt.Family.Name);
        var reports = ckpt.Inspect();
        Assert.All(reports, r => Assert.True(r.IsComplete, $"{r.Component}: {string.Join(", ", r.Missing.Concat(r.Unexpected).Concat(r.ShapeMismatches).Take(5))}"));
        var counts = doc.RootElement.GetProperty("param_counts");
        foreach (var r in reports.Where(r => r.Component != "other")) Assert.Equal(counts.GetProperty(r.Component).GetInt64(), r.Parameters);
        Assert.Equal(unetParameters, reports.Single(r => r.Component == "unet").Parameters);
        // Every field the manifest's diffusers config states matches the resolved config.
        var unet = ckpt.ConfigReports.Single(r => r.Component == "unet").Config;
        // addition_embed_type_num_heads only matters for the text_image embedding types, which no family here uses.
        foreach (var field in doc.RootElement.GetProperty("configs").GetProperty("unet").EnumerateObject().Where(f => f.Name != "addition_embed_type_num_heads"))
            Assert.True(ConfigResolver.Equivalent(JsonNode.Parse(field.Value.GetRawText()), unet[field.Name]) || field.Name == "transformer_layers_per_block" && DepthEquals(field.Value, unet),
                $"{manifest} unet {field.Name}: manifest {field.Value}, resolved {unet[field.Name]?.ToJsonString() ?? "null"}");
    }

    // Depths where there is no attention are written as 1 by diffusers and carry no meaning (the refiner's "4" vs [1, 4, 4, 4]).
    private static bool DepthEquals(JsonElement expected, JsonObject resolved) =>
        expected.ValueKind == JsonValueKind.Number && resolved["down_block_types"]!.AsArray().Select((t, i) => (t, i))
            .All(p => p.t!.GetValue<string>() == "DownBlock2D" && p.i < resolved["down_block_types"]!.AsArray().Count - 1
                || resolved["transformer_layers_per_block"]![p.i]!.GetValue<int>() == expected.GetInt32());
}
