using LcmLora.Lora;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Lora;

/// <summary>Strict / lenient matching, reports, and the guarantees around broken adapters.</summary>
[Trait("Category", "unit")]
public class LoraMatchPolicyTests
{
    private const string Q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";

    private static (string, Arr)[] GoodQ(int seed = 1) =>
        [($"{Q}.lora_down.weight", Arr.Random(seed, 2, 5)), ($"{Q}.lora_up.weight", Arr.Random(seed + 1, 6, 2)), ($"{Q}.alpha", SyntheticLora.Scalar(2))];

    [Fact]
    public void UnknownKeysWithAKnownPrefixAreReportedAndTheRestApplied()
    {
        using var s = new SyntheticLora();
        var path = s.Write([
            .. GoodQ(),
            ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.lora_down.weight", Arr.Random(3, 2, 5)),
            ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.lora_up.weight", Arr.Random(4, 6, 2)),
            ("lora_unet_conv_in.diff", Arr.Random(5, 2, 2)),
            ("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", Arr.Random(6, 2, 5)),
            ("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", Arr.Random(7, 7, 2)),
        ]);
        using var set = new LoraAdapterSet(s.Components);
        var adapter = set.Add("x", path); // Auto: every key has a known prefix, so lenient
        Assert.Equal(LoraMatchMode.Lenient, adapter.Match.Mode);
        Assert.Equal(1, adapter.ModuleCount);
        var unet = adapter.Reports.Single(r => r.Component == LoraComponents.UNet);
        Assert.Equal(2, unet.ModulesInFile);
        Assert.Equal(1, unet.Matched);
        Assert.Equal(2, unet.UnmatchedKeys.Count); // to_k (no such module here) and the .diff key
        Assert.Contains(unet.UnmatchedKeys, k => k.Contains("unrecognized tensor suffix"));
        var te2 = adapter.Reports.Single(r => r.Component == LoraComponents.TextEncoder2);
        Assert.Contains("component not loaded", te2.UnmatchedKeys.Single());
        Assert.False(adapter.Match.IsComplete);

        var e = Assert.Throws<LoraMismatchException>(() => set.Add("strict", path, 1.0, LoraMatchMode.Strict));
        Assert.IsAssignableFrom<LcmLoraInputException>(e);
        Assert.Contains("to_k", e.Message);
        Assert.Single(set.Adapters);
    }

    [Fact]
    public void KeysWithoutAKnownPrefixMakeAutoStrict()
    {
        using var s = new SyntheticLora();
        var path = s.Write([.. GoodQ(), ("some_model.layer.lora_down.weight", Arr.Random(3, 2, 5)), ("some_model.layer.lora_up.weight", Arr.Random(4, 6, 2))]);
        using var set = new LoraAdapterSet(s.Components);
        var e = Assert.Throws<LoraMismatchException>(() => set.Add("x", path));
        Assert.Equal(LoraMatchMode.Strict, e.Result.Mode);
        Assert.Contains(e.Result.Reports, r => r.Component == LoraComponents.Unknown && r.UnmatchedKeys.Contains("some_model.layer"));
        Assert.Equal(1, set.Add("lenient", path, 1.0, LoraMatchMode.Lenient).ModuleCount);
    }

    [Fact]
    public void ShapeMismatchesAreReportedOrThrown()
    {
        using var s = new SyntheticLora();
        var path = s.Write([
            .. GoodQ(),
            ("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight", Arr.Random(3, 2, 5, 3, 3)), // in 5, model has 3
            ("lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight", Arr.Random(4, 4, 2, 1, 1)),
        ]);
        using var set = new LoraAdapterSet(s.Components);
        var adapter = set.Add("x", path);
        var unet = adapter.Reports.Single(r => r.Component == LoraComponents.UNet);
        Assert.Equal(1, unet.Matched);
        Assert.Contains("conv1", unet.ShapeMismatches.Single());
        Assert.Throws<LoraMismatchException>(() => set.Add("y", path, 1.0, LoraMatchMode.Strict));
    }

    [Fact]
    public void ALoraThatMatchesNothingIsRejectedInEveryMode()
    {
        using var s = new SyntheticLora();
        var path = s.Write([("lora_unet_mid_block_attentions_0_proj_in.lora_down.weight", Arr.Random(1, 2, 5)), ("lora_unet_mid_block_attentions_0_proj_in.lora_up.weight", Arr.Random(2, 6, 2))]);
        using var set = new LoraAdapterSet(s.Components);
        Assert.Throws<LoraMismatchException>(() => set.Add("x", path, 1.0, LoraMatchMode.Lenient));
        var notLora = s.Write([("model.weight", Arr.Random(1, 2, 2))]);
        Assert.Throws<LoraFormatException>(() => LoraFile.Open(notLora));
    }

    [Fact]
    public void NonFiniteFactorsAreRefusedWhenAdded()
    {
        using var s = new SyntheticLora();
        var up = Arr.Random(2, 6, 2);
        up[3, 1] = double.NaN;
        var path = s.Write([($"{Q}.lora_down.weight", Arr.Random(1, 2, 5)), ($"{Q}.lora_up.weight", up)]);
        using var set = new LoraAdapterSet(s.Components);
        Assert.Throws<LoraFormatException>(() => set.Add("nan", path));
        Assert.Empty(set.Adapters);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OverflowingFusionChangesNothing(bool keepOriginals)
    {
        using var s = new SyntheticLora();
        var before = s.Model.ToDictionary(c => c.Key, c => c.Value.ToDictionary(p => p.Key, p => p.Value.clone()));
        // A sane adapter on text_encoder q_proj fused first, then one whose product overflows float32 on to_q.
        var te = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj";
        var good = s.Write([($"{te}.lora_down.weight", Arr.Random(1, 2, 5)), ($"{te}.lora_up.weight", Arr.Random(2, 5, 2))]);
        var huge = new Arr([2, 5], Enumerable.Repeat(1e30, 10).ToArray());
        var bad = s.Write([($"{Q}.lora_down.weight", huge), ($"{Q}.lora_up.weight", new Arr([6, 2], Enumerable.Repeat(1e30, 12).ToArray()))]);
        using var set = new LoraAdapterSet(s.Components, keepOriginals);
        set.Add("good", good);
        set.Add("bad", bad);
        var e = Assert.Throws<LoraNonFiniteException>(() => set.Fuse());
        Assert.Contains("to_q", e.Message);
        Assert.False(set.IsFused);
        AssertUnchanged(s, before);

        // Weight 0 disables the broken adapter; then changing it back while fused restores the previous fused state.
        set.SetWeight("bad", 0);
        set.Fuse();
        Assert.Equal([SyntheticLora.TeQ], set.FusedParameters[LoraComponents.TextEncoder]);
        if (keepOriginals)
        {
            using var fusedQ = s.Live("text_encoder." + SyntheticLora.TeQ).clone();
            Assert.Throws<LoraNonFiniteException>(() => set.SetWeight("bad", 1.0));
            Assert.True(set.IsFused);
            Assert.Equal(0, set["bad"].Weight);
            TensorAssert.Identical(fusedQ, s.Live("text_encoder." + SyntheticLora.TeQ));
            set.Unfuse();
            AssertUnchanged(s, before);
        }
        else
        {
            Assert.Throws<InvalidOperationException>(set.Unfuse);
            Assert.Throws<InvalidOperationException>(() => set.SetWeight("bad", 1.0));
        }
        TinyLoraModel.DisposeAll(before);
    }

    [Fact]
    public void SetRefusesBadArguments()
    {
        using var s = new SyntheticLora();
        var path = s.Write(GoodQ());
        using var set = new LoraAdapterSet(s.Components);
        set.Add("x", path);
        Assert.Throws<ArgumentException>(() => set.Add("x", path));
        Assert.Throws<LcmLoraInputException>(() => set.SetWeight("x", double.NaN));
        Assert.Throws<KeyNotFoundException>(() => set.SetWeight("nope", 1));
        set.Fuse();
        Assert.Throws<InvalidOperationException>(() => set.Fuse());
        Assert.True(set.Remove("x"));
        Assert.True(set.IsFused);
        Assert.Empty(set.FusedParameters);
        Assert.Throws<ArgumentException>(() => new LoraAdapterSet(new Dictionary<string, IReadOnlyDictionary<string, torch.Tensor>> { ["vae"] = s.Model["unet"] }));
    }

    private static void AssertUnchanged(SyntheticLora s, Dictionary<string, Dictionary<string, torch.Tensor>> before)
    {
        foreach (var (component, parameters) in s.Model)
            foreach (var (name, live) in parameters) TensorAssert.Identical(before[component][name], live, component + "." + name);
    }
}
