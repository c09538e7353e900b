using LcmLora.Checkpoints;
using LcmLora.Models.Clip;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Models.Clip;

/// <summary>SDXL text encoders from the original single-file (SGM) layout.</summary>
[Trait("Category", "unit")]
public class ClipSgmKeyMapTests
{
    private static string SgmFile => Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors");

    [Theory]
    [InlineData("text_encoder")]
    [InlineData("text_encoder_2")]
    public void TinySgmLoadsTheSameWeightsAsTheDiffusersFolder(string component)
    {
        using var noGrad = torch.no_grad();
        using var fromDiffusers = TinyClip.Load(component);
        using var fromSgm = new ClipTextModel(TinyClip.Config(component));
        var map = MapFor(component, fromSgm.state_dict().Keys);
        using var source = CheckpointTensors.Open(SgmFile);

        var report = WeightLoader.Load(component, fromSgm, map, source);

        Assert.True(report.IsComplete);
        Assert.Equal(fromSgm.parameters().Sum(p => p.numel()), report.Parameters);
        var expected = fromDiffusers.state_dict();
        foreach (var (name, actual) in fromSgm.state_dict())
            TensorAssert.Identical(expected[name], actual, name);
    }

    [Theory]
    [InlineData("text_encoder")]
    [InlineData("text_encoder_2")]
    public void MapsCoverTheFullSizeSgmManifestExactly(string component)
    {
        var config = component == "text_encoder" ? ClipTextConfig.SdxlClipL : ClipTextConfig.SdxlBigG;
        using var model = TinyClip.Meta(config);
        var ours = WeightMap.ShapesOf(model);
        var map = MapFor(component, ours.Keys);
        var manifest = TinyClip.SgmManifest();

        var consumed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shape) in ours)
        {
            var r = map.Entries[name];
            Assert.True(manifest.TryGetValue(r.Key, out var stored), $"{name}: {r.Key} is not in the manifest");
            consumed.Add(r.Key);
            Assert.True(shape.SequenceEqual(AsOurs(stored!, r)), $"{name} <- {r}: stored [{string.Join(", ", stored!)}], ours [{string.Join(", ", shape)}]");
        }
        var owned = manifest.Keys.Where(map.OwnsKey).ToList();
        Assert.NotEmpty(owned);
        Assert.DoesNotContain(owned, k => !consumed.Contains(k) && !map.IgnorableKey(k));
        Assert.Equal(component == "text_encoder" ? 196 : 389, owned.Count);
        // Nothing outside the component's prefix is claimed: the two maps and the other components stay disjoint.
        Assert.All(consumed, k => Assert.StartsWith(component == "text_encoder" ? ClipSgmKeyMap.ClipLPrefix : ClipSgmKeyMap.BigGPrefix, k));
    }

    [Fact]
    public void BigGQkvAreRowBlocksOfInProjAndProjectionIsTransposed()
    {
        var map = ClipSgmKeyMap.ForOpenClipBigG(
        [
            "text_model.encoder.layers.31.self_attn.k_proj.bias",
            "text_model.encoder.layers.3.self_attn.v_proj.weight",
            "text_projection.weight",
            "text_model.embeddings.position_embedding.weight",
        ]);
        Assert.Equal(new TensorRef("conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_bias", Part: 1, Parts: 3),
            map.Entries["text_model.encoder.layers.31.self_attn.k_proj.bias"]);
        Assert.Equal(new TensorRef("conditioner.embedders.1.model.transformer.resblocks.3.attn.in_proj_weight", Part: 2, Parts: 3),
            map.Entries["text_model.encoder.layers.3.self_attn.v_proj.weight"]);
        Assert.Equal(new TensorRef("conditioner.embedders.1.model.text_projection", TensorTransform.Transpose), map.Entries["text_projection.weight"]);
        Assert.Equal(new TensorRef("conditioner.embedders.1.model.positional_embedding"), map.Entries["text_model.embeddings.position_embedding.weight"]);
        Assert.True(map.IgnorableKey("conditioner.embedders.1.model.logit_scale"));
        Assert.False(map.OwnsKey("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"));
        Assert.Throws<ArgumentException>(() => ClipSgmKeyMap.ForOpenClipBigG(["text_model.encoder.layers.0.self_attn.x_proj.weight"]));
        Assert.Throws<ArgumentException>(() => ClipSgmKeyMap.ForOpenClipBigG(["text_model.encoder.layers.x.mlp.fc1.weight"]));
    }

    [Fact]
    public void ClipLIsTheHfNameUnderItsPrefix()
    {
        var map = ClipSgmKeyMap.ForClipL(["text_model.encoder.layers.0.self_attn.q_proj.weight"]);
        Assert.Equal(new TensorRef("conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"),
            map.Entries["text_model.encoder.layers.0.self_attn.q_proj.weight"]);
        Assert.True(map.IgnorableKey("conditioner.embedders.0.transformer.text_model.embeddings.position_ids"));
        Assert.False(map.OwnsKey("conditioner.embedders.1.model.ln_final.weight"));
    }

    private static WeightMap MapFor(string component, IEnumerable<string> ourNames) =>
        component == "text_encoder" ? ClipSgmKeyMap.ForClipL(ourNames) : ClipSgmKeyMap.ForOpenClipBigG(ourNames);

    // Independent of CheckpointTensors.ShapeOf on purpose: the manifest has no data to open.
    private static long[] AsOurs(long[] stored, TensorRef r)
    {
        var s = (long[])stored.Clone();
        if (r.Parts > 1) s[0] /= r.Parts;
        return r.Transform == TensorTransform.Transpose ? [s[1], s[0]] : s;
    }
}
