using LcmLora.Lora;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Lora;

/// <summary>
/// Formats without fixtures (LoCon Tucker, LoHa, LoKr, DoRA, diffusers legacy, PEFT metadata): small files are
/// written here and the fused weights are checked against deltas computed with plain loops in this file.
/// </summary>
[Trait("Category", "unit")]
public class LoraSyntheticFormatTests
{
    private const string QModule = "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
    private const string OutModule = "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0";
    private const string ConvModule = "down_blocks_0_resnets_0_conv1";

    [Fact]
    public void LoConWithTuckerCore()
    {
        using var s = new SyntheticLora();
        Arr down = Arr.Random(10, 2, 3, 1, 1), mid = Arr.Random(11, 2, 2, 3, 3), up = Arr.Random(12, 4, 2, 1, 1);
        var path = s.Write([
            ($"lora_unet_{ConvModule}.lora_down.weight", down), ($"lora_unet_{ConvModule}.lora_mid.weight", mid),
            ($"lora_unet_{ConvModule}.lora_up.weight", up), ($"lora_unet_{ConvModule}.alpha", SyntheticLora.Scalar(1.0)),
        ]);
        var delta = Arr.Zeros(4, 3, 3, 3);
        for (long o = 0; o < 4; o++)
            for (long i = 0; i < 3; i++)
                for (long h = 0; h < 3; h++)
                    for (long w = 0; w < 3; w++)
                    {
                        double sum = 0;
                        for (long m = 0; m < 2; m++)
                            for (long d = 0; d < 2; d++) sum += up[o, m, 0, 0] * mid[m, d, h, w] * down[d, i, 0, 0];
                        delta[o, i, h, w] = sum;
                    }
        var expected = new Dictionary<string, Arr> { ["unet." + SyntheticLora.Conv1] = s.Weights["unet." + SyntheticLora.Conv1].AddScaled(delta, 1.5 * 0.5) };
        FuseAndCheck(s, path, 1.5, expected, LoraKeyStyle.Kohya, LoraAlgorithms.LoCon | LoraAlgorithms.Tucker);
    }

    [Fact]
    public void LoHaOnLinearAndFlattenedConvWithLycorisPrefix()
    {
        using var s = new SyntheticLora();
        Arr q1a = Arr.Random(20, 6, 2), q1b = Arr.Random(21, 2, 5), q2a = Arr.Random(22, 6, 2), q2b = Arr.Random(23, 2, 5);
        Arr c1a = Arr.Random(24, 4, 3), c1b = Arr.Random(25, 3, 27), c2a = Arr.Random(26, 4, 3), c2b = Arr.Random(27, 3, 27);
        var path = s.Write([
            ($"lora_unet_{QModule}.hada_w1_a", q1a), ($"lora_unet_{QModule}.hada_w1_b", q1b),
            ($"lora_unet_{QModule}.hada_w2_a", q2a), ($"lora_unet_{QModule}.hada_w2_b", q2b), ($"lora_unet_{QModule}.alpha", SyntheticLora.Scalar(4)),
            ($"lycoris_{ConvModule}.hada_w1_a", c1a), ($"lycoris_{ConvModule}.hada_w1_b", c1b),
            ($"lycoris_{ConvModule}.hada_w2_a", c2a), ($"lycoris_{ConvModule}.hada_w2_b", c2b), ($"lycoris_{ConvModule}.alpha", SyntheticLora.Scalar(1.5)),
        ]);
        var dq = Arr.Hadamard(Arr.MatMul(q1a, q1b), Arr.MatMul(q2a, q2b));
        var dc = Arr.Hadamard(Arr.MatMul(c1a, c1b), Arr.MatMul(c2a, c2b));
        var expected = new Dictionary<string, Arr>
        {
            ["unet." + SyntheticLora.ToQ] = s.Weights["unet." + SyntheticLora.ToQ].AddScaled(dq, 0.9 * 4 / 2),
            ["unet." + SyntheticLora.Conv1] = s.Weights["unet." + SyntheticLora.Conv1].AddScaled(dc, 0.9 * 1.5 / 3),
        };
        var set = FuseAndCheck(s, path, 0.9, expected, LoraKeyStyle.Kohya, LoraAlgorithms.LoHa);
        Assert.Equal([LoraNamingScheme.Kohya, LoraNamingScheme.Lycoris], set.Order());
    }

    [Fact]
    public void LoHaWithTuckerCores()
    {
        using var s = new SyntheticLora();
        Arr w1a = Arr.Random(30, 2, 4), w1b = Arr.Random(31, 2, 3), t1 = Arr.Random(32, 2, 2, 3, 3);
        Arr w2a = Arr.Random(33, 2, 4), w2b = Arr.Random(34, 2, 3), t2 = Arr.Random(35, 2, 2, 3, 3);
        var p = $"lora_unet_{ConvModule}";
        var path = s.Write([
            ($"{p}.hada_w1_a", w1a), ($"{p}.hada_w1_b", w1b), ($"{p}.hada_t1", t1),
            ($"{p}.hada_w2_a", w2a), ($"{p}.hada_w2_b", w2b), ($"{p}.hada_t2", t2),
        ]);
        var delta = Arr.Hadamard(Arr.Tucker(t1, w1a, w1b), Arr.Tucker(t2, w2a, w2b)); // no alpha: scale 1
        var expected = new Dictionary<string, Arr> { ["unet." + SyntheticLora.Conv1] = s.Weights["unet." + SyntheticLora.Conv1].AddScaled(delta, 1.0) };
        FuseAndCheck(s, path, 1.0, expected, LoraKeyStyle.Kohya, LoraAlgorithms.LoHa | LoraAlgorithms.Tucker);
    }

    [Fact]
    public void LoKrFullAndFactorizedSides()
    {
        using var s = new SyntheticLora();
        Arr o1 = Arr.Random(40, 2, 3), o2a = Arr.Random(41, 3, 2), o2b = Arr.Random(42, 2, 2);
        Arr c1a = Arr.Random(43, 2, 1), c1b = Arr.Random(44, 1, 1), c2 = Arr.Random(45, 2, 3, 3, 3);
        Arr q1 = Arr.Random(46, 3, 5), q2 = Arr.Random(47, 2, 1);
        var path = s.Write([
            ($"lora_unet_{OutModule}.lokr_w1", o1), ($"lora_unet_{OutModule}.lokr_w2_a", o2a), ($"lora_unet_{OutModule}.lokr_w2_b", o2b),
            ($"lora_unet_{OutModule}.alpha", SyntheticLora.Scalar(1)),
            ($"lora_unet_{ConvModule}.lokr_w1_a", c1a), ($"lora_unet_{ConvModule}.lokr_w1_b", c1b), ($"lora_unet_{ConvModule}.lokr_w2", c2),
            ($"lora_unet_{ConvModule}.alpha", SyntheticLora.Scalar(0.5)),
            ($"lora_unet_{QModule}.lokr_w1", q1), ($"lora_unet_{QModule}.lokr_w2", q2), ($"lora_unet_{QModule}.alpha", SyntheticLora.Scalar(7)),
        ]);
        var expected = new Dictionary<string, Arr>
        {
            // Factorized w2 of rank 2, alpha 1: scale 0.5.
            ["unet." + SyntheticLora.ToOut] = s.Weights["unet." + SyntheticLora.ToOut].AddScaled(Arr.Kron(o1, Arr.MatMul(o2a, o2b)), 0.5),
            // Factorized w1 of rank 1, alpha 0.5: scale 0.5; 4-D right factor gives a conv delta.
            ["unet." + SyntheticLora.Conv1] = s.Weights["unet." + SyntheticLora.Conv1].AddScaled(Arr.Kron(Arr.MatMul(c1a, c1b), c2), 0.5),
            // Both sides whole: alpha is ignored (scale 1).
            ["unet." + SyntheticLora.ToQ] = s.Weights["unet." + SyntheticLora.ToQ].AddScaled(Arr.Kron(q1, q2), 1.0),
        };
        FuseAndCheck(s, path, 1.0, expected, LoraKeyStyle.Kohya, LoraAlgorithms.LoKr);
    }

    [Fact]
    public void LoKrWithTuckerRightFactor()
    {
        using var s = new SyntheticLora();
        Arr w1 = Arr.Random(50, 2, 1), w2a = Arr.Random(51, 2, 2), w2b = Arr.Random(52, 2, 3), t2 = Arr.Random(53, 2, 2, 3, 3);
        var p = $"lora_unet_{ConvModule}";
        var path = s.Write([($"{p}.lokr_w1", w1), ($"{p}.lokr_w2_a", w2a), ($"{p}.lokr_w2_b", w2b), ($"{p}.lokr_t2", t2), ($"{p}.alpha", SyntheticLora.Scalar(2))]);
        var delta = Arr.Kron(w1, Arr.Tucker(t2, w2a, w2b)); // rank 2, alpha 2: scale 1
        var expected = new Dictionary<string, Arr> { ["unet." + SyntheticLora.Conv1] = s.Weights["unet." + SyntheticLora.Conv1].AddScaled(delta, 0.6) };
        FuseAndCheck(s, path, 0.6, expected, LoraKeyStyle.Kohya, LoraAlgorithms.LoKr | LoraAlgorithms.Tucker);
    }

    [Fact]
    public void DoraAsPeftMergesIt()
    {
        using var s = new SyntheticLora();
        Arr a = Arr.Random(60, 2, 5), b = Arr.Random(61, 6, 2);
        var m = new Arr([6], Arr.Random(62, 6).Data.Select(v => Math.Abs(v) + 0.5).ToArray());
        var module = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";
        var path = s.Write([($"{module}.lora_A.weight", a), ($"{module}.lora_B.weight", b), ($"{module}.lora_magnitude_vector", m)],
            new() { ["lora_adapter_metadata"] = """{"unet.r": 2, "unet.lora_alpha": 4, "unet.use_dora": true}""" });
        // V = W + weight * (alpha / r) * B @ A; each output row rescaled to its magnitude.
        var v = s.Weights["unet." + SyntheticLora.ToQ].AddScaled(Arr.MatMul(b, a), 0.7 * 4 / 2);
        var expected = Arr.Zeros(6, 5);
        for (long o = 0; o < 6; o++)
        {
            var norm = Math.Sqrt(Enumerable.Range(0, 5).Sum(i => v[o, i] * v[o, i]));
            for (long i = 0; i < 5; i++) expected[o, i] = m[o] * v[o, i] / norm;
        }
        FuseAndCheck(s, path, 0.7, new() { ["unet." + SyntheticLora.ToQ] = expected }, LoraKeyStyle.Peft, LoraAlgorithms.LoRA | LoraAlgorithms.DoRA);
    }

    [Fact]
    public void KohyaDoraScaleOnInputAndOutputAxes()
    {
        using var s = new SyntheticLora();
        // Text-encoder fc1 [7, 5] with a LyCORIS-style input-axis magnitude [1, 5].
        Arr fd = Arr.Random(70, 2, 5), fu = Arr.Random(71, 7, 2);
        var fm = new Arr([1, 5], Arr.Random(72, 5).Data.Select(v => Math.Abs(v) + 0.5).ToArray());
        // UNet conv1 [4, 3, 3, 3] (LoCon) with an output-axis magnitude [4, 1, 1, 1].
        Arr cd = Arr.Random(73, 2, 3, 3, 3), cu = Arr.Random(74, 4, 2, 1, 1);
        var cm = new Arr([4, 1, 1, 1], Arr.Random(75, 4).Data.Select(v => Math.Abs(v) + 0.5).ToArray());
        var te = "lora_te1_text_model_encoder_layers_0_mlp_fc1";
        var path = s.Write([
            ($"{te}.lora_down.weight", fd), ($"{te}.lora_up.weight", fu), ($"{te}.alpha", SyntheticLora.Scalar(2)), ($"{te}.dora_scale", fm),
            ($"lora_unet_{ConvModule}.lora_down.weight", cd), ($"lora_unet_{ConvModule}.lora_up.weight", cu), ($"lora_unet_{ConvModule}.dora_scale", cm),
        ]);
        var fv = s.Weights["text_encoder." + SyntheticLora.TeFc1].AddScaled(Arr.MatMul(fu, fd), 1.0);
        var fe = Arr.Zeros(7, 5);
        for (long i = 0; i < 5; i++)
        {
            var norm = Math.Sqrt(Enumerable.Range(0, 7).Sum(o => fv[o, i] * fv[o, i]));
            for (long o = 0; o < 7; o++) fe[o, i] = fm[0, i] * fv[o, i] / norm;
        }
        var cv = s.Weights["unet." + SyntheticLora.Conv1].AddScaled(Arr.MatMul(cu.Reshape(4, 2), cd.Reshape(2, 27)), 1.0).Reshape(4, 27);
        var ce = Arr.Zeros(4, 27);
        for (long o = 0; o < 4; o++)
        {
            var norm = Math.Sqrt(Enumerable.Range(0, 27).Sum(k => cv[o, k] * cv[o, k]));
            for (long k = 0; k < 27; k++) ce[o, k] = cm.Data[o] * cv[o, k] / norm;
        }
        FuseAndCheck(s, path, 1.0, new()
        {
            ["text_encoder." + SyntheticLora.TeFc1] = fe,
            ["unet." + SyntheticLora.Conv1] = ce.Reshape(4, 3, 3, 3),
        }, LoraKeyStyle.Kohya, LoraAlgorithms.LoRA | LoraAlgorithms.LoCon | LoraAlgorithms.DoRA);
    }

    [Fact]
    public void DiffusersLegacyKeys()
    {
        using var s = new SyntheticLora();
        Arr qd = Arr.Random(80, 2, 5), qu = Arr.Random(81, 6, 2), od = Arr.Random(82, 2, 6), ou = Arr.Random(83, 6, 2);
        Arr sd = Arr.Random(84, 2, 3, 1, 1), su = Arr.Random(85, 4, 2, 1, 1), td = Arr.Random(86, 2, 5), tu = Arr.Random(87, 5, 2);
        var attn = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor";
        var path = s.Write([
            ($"{attn}.to_q_lora.down.weight", qd), ($"{attn}.to_q_lora.up.weight", qu),
            ($"{attn}.to_out_lora.down.weight", od), ($"{attn}.to_out_lora.up.weight", ou),
            ("unet.down_blocks.0.resnets.0.conv_shortcut.lora.down.weight", sd), ("unet.down_blocks.0.resnets.0.conv_shortcut.lora.up.weight", su),
            ("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.down.weight", td),
            ("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.up.weight", tu),
        ]);
        var expected = new Dictionary<string, Arr>
        {
            ["unet." + SyntheticLora.ToQ] = s.Weights["unet." + SyntheticLora.ToQ].AddScaled(Arr.MatMul(qu, qd), 1.0),
            ["unet." + SyntheticLora.ToOut] = s.Weights["unet." + SyntheticLora.ToOut].AddScaled(Arr.MatMul(ou, od), 1.0),
            ["unet." + SyntheticLora.Shortcut] = s.Weights["unet." + SyntheticLora.Shortcut].AddScaled(Arr.MatMul(su.Reshape(4, 2), sd.Reshape(2, 3)), 1.0),
            ["text_encoder." + SyntheticLora.TeQ] = s.Weights["text_encoder." + SyntheticLora.TeQ].AddScaled(Arr.MatMul(tu, td), 1.0),
        };
        var schemes = FuseAndCheck(s, path, 1.0, expected, LoraKeyStyle.DiffusersLegacy, LoraAlgorithms.LoRA);
        Assert.Equal([LoraNamingScheme.DiffusersLegacy], schemes);
    }

    [Fact]
    public void PeftMetadataGivesAlphaPerComponentAndPattern()
    {
        var q = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";
        var o = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0";
        (string, long[])[] keys =
        [
            ($"unet.{q}.lora_A.weight", [2, 5]), ($"unet.{q}.lora_B.weight", [6, 2]),
            ($"unet.{o}.lora_A.weight", [2, 6]), ($"unet.{o}.lora_B.weight", [6, 2]),
            ("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight", [2, 5]),
            ("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight", [5, 2]),
        ];
        var prefixed = LoraFile.FromHeader("prefixed", keys, new Dictionary<string, string>
        {
            ["lora_adapter_metadata"] = """{"unet.r": 2, "unet.lora_alpha": 8, "unet.alpha_pattern": {"to_out.0": 2}, "text_encoder.lora_alpha": 1}""",
        });
        Assert.Equal([4.0, 1.0, 0.5], prefixed.Modules.Select(m => m.Scale));
        var unprefixed = LoraFile.FromHeader("unprefixed", keys.Take(2), new Dictionary<string, string>
        {
            ["lora_adapter_metadata"] = """{"r": 2, "lora_alpha": 4, "use_rslora": true}""",
        });
        Assert.Equal(4 / Math.Sqrt(2), unprefixed.Modules.Single().Scale, 12);
        var none = LoraFile.FromHeader("none", keys.Take(2));
        Assert.Equal(1.0, none.Modules.Single().Scale);
        Assert.Throws<LoraFormatException>(() => LoraFile.FromHeader("bad", keys.Take(2), new Dictionary<string, string> { ["lora_adapter_metadata"] = "{nope" }));
    }

    /// <summary>
    /// Fuses <paramref name="path"/> at <paramref name="weight"/> (strict mode), checks the expected weights to 1e-5
    /// relative and every other weight untouched, unfuses and checks every weight bit for bit. Returns the schemes used.
    /// </summary>
    private static HashSet<LoraNamingScheme> FuseAndCheck(SyntheticLora s, string path, double weight, Dictionary<string, Arr> expected,
        LoraKeyStyle style, LoraAlgorithms algorithms)
    {
        var before = s.Model.ToDictionary(c => c.Key, c => c.Value.ToDictionary(p => p.Key, p => p.Value.clone()));
        using var file = LoraFile.Open(path);
        Assert.Equal(style, file.Format.KeyStyle);
        Assert.Equal(algorithms, file.Format.Algorithms);
        using var set = new LoraAdapterSet(s.Components);
        var adapter = set.Add("synthetic", file, weight, LoraMatchMode.Strict);
        Assert.Equal(expected.Count, adapter.ModuleCount);
        set.Fuse();
        Assert.Equal(expected.Keys.Order(), set.FusedParameters.SelectMany(kv => kv.Value.Select(p => kv.Key + "." + p)).Order());
        foreach (var (component, parameters) in s.Model)
            foreach (var (name, live) in parameters)
            {
                var qualified = component + "." + name;
                if (expected.TryGetValue(qualified, out var e))
                {
                    using var et = torch.tensor(e.Data, e.Shape);
                    TensorAssert.Close(et, live, 1e-5, qualified);
                }
                else TensorAssert.Identical(before[component][name], live, qualified);
            }
        set.Unfuse();
        foreach (var (component, parameters) in s.Model)
            foreach (var (name, live) in parameters) TensorAssert.Identical(before[component][name], live, component + "." + name);
        TinyLoraModel.DisposeAll(before);
        return adapter.Match.Matches.Select(m => m.Target.Scheme).ToHashSet();
    }
}
