using System.Text.Json;
using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Lora;
using LcmLora.Models;
using LcmLora.Tests.Checkpoints;
using LcmLora.Tests.Lora;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Families;

/// <summary>
/// An LCM-LoRA made for SSD-1B or Segmind Vega (SDXL with fewer transformer blocks) names that model's own modules.
/// The LoRAs here are built in the test over every module an LCM-LoRA targets, named by the published rules from the
/// diffusers module paths: kohya <c>lora_unet_</c> + path with '.' → '_' (<c>lora_down</c>/<c>lora_up</c>/<c>alpha</c>),
/// PEFT <c>unet.&lt;path&gt;.lora_A/lora_B.weight</c> with the alpha in the header's <c>lora_adapter_metadata</c>
/// (shared/docs/reference-facts.md 4.1, 4.2, 4.4). Every module must match, every targeted weight must be adapted, and the
/// fused weights must equal W + w * alpha / r * (up @ down) computed here with plain loops (1e-5 relative).
/// </summary>
[Trait("Category", "parity")]
public sealed class SsdLcmLoraTests : TempDirectoryTest
{
    private const int Rank = 2;

    private static string Folder => Fixtures.Path("sdxl-variants", "ssd1b_like", "diffusers");

    private static string SingleFile => Fixtures.Path("sdxl-variants", "ssd1b_like", "sgm", "ssd1b_like_sgm.safetensors");

    public static TheoryData<string, bool, double> Cases => new()
    {
        { "kohya", false, 1.0 },
        { "kohya", true, 0.7 },
        { "peft", false, 0.7 },
        { "peft", true, 1.0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryTargetedModuleMatchesAndFusesToTheIndependentSum(string form, bool singleFile, double weight)
    {
        // The fixture's diffusers UNet keys give the module names and shapes, independently of our model.
        List<(string Module, long[] Shape)> targets;
        using (var unetFile = SafeTensorsFile.Open(Path.Combine(Folder, ModelComponent.Unet.Name(), "diffusion_pytorch_model.safetensors")))
            targets = LcmLoraTargets.Of(unetFile.Tensors.ToDictionary(t => t.Name, t => t.Shape));
        Assert.Contains(targets, t => t.Module.EndsWith("attn2.to_k", StringComparison.Ordinal));
        Assert.Contains(targets, t => t.Module.EndsWith("conv_shortcut", StringComparison.Ordinal));
        Assert.Contains(targets, t => t.Module.StartsWith("mid_block.resnets.", StringComparison.Ordinal)); // SSD-1B's mid block is one resnet pair
        Assert.Contains(targets, t => t.Module.StartsWith("up_blocks.0.attentions.0.transformer_blocks.1.", StringComparison.Ordinal));

        var (path, factors, scale) = WriteLora(form, targets);
        using var checkpoint = singleFile ? SdxlCheckpoint.Open(SingleFile, configDir: Folder) : SdxlCheckpoint.Open(Folder);
        using var unet = checkpoint.LoadComponent(ModelComponent.Unet);
        var live = unet.named_parameters().ToDictionary(p => p.name, p => (torch.Tensor)p.parameter);
        var originals = targets.ToDictionary(t => t.Module, t => live[t.Module + ".weight"].detach().clone());

        using var set = LoraAdapterSet.FromModules(new Dictionary<string, torch.nn.Module> { [ModelComponent.Unet.Name()] = unet });
        var adapter = set.Add("lcm-ssd", path, weight, LoraMatchMode.Strict);
        var report = Assert.Single(adapter.Reports);
        Assert.Equal(ModelComponent.Unet.Name(), report.Component);
        Assert.True(report.IsComplete, report.ToString());
        Assert.Empty(report.UnmatchedKeys);
        Assert.Equal(targets.Count, report.ModulesInFile);
        Assert.Equal(targets.Count, report.Matched);
        // Nothing the model expects an LCM-LoRA to adapt is left out, and nothing else is touched.
        Assert.Equal(targets.Select(t => t.Module + ".weight").Order(StringComparer.Ordinal),
            adapter.Match.Matches.Select(m => m.Target.Parameter).Order(StringComparer.Ordinal));

        set.Fuse();
        foreach (var (module, shape) in targets)
        {
            var (down, up) = factors[module];
            var delta = Arr.MatMul(up.Reshape(shape[0], Rank), down.Reshape(Rank, down.Data.Length / Rank));
            var w = new Arr(shape, originals[module].to(torch.ScalarType.Float64).data<double>().ToArray());
            using var expected = w.AddScaled(delta, weight * scale).ToTensor();
            TensorAssert.Close(expected, live[module + ".weight"], 1e-5, module);
        }
        set.Unfuse();
        foreach (var (module, original) in originals) TensorAssert.Identical(original, live[module + ".weight"], module);
        foreach (var t in originals.Values) t.Dispose();
    }

    /// <summary>
    /// The full-size SSD-1B and Segmind Vega single files (manifests: keys and shapes, no weights): LoRA keys derived the
    /// same way from the UNet the shapes alone give (no config supplied) match every targeted module. At rank 64, the
    /// SSD-1B layout has 423 modules and 104,902,656 parameters: lcm-lora-ssd-1b's model card says 105M, and a public
    /// re-run of diffusers' LCM-LoRA script lists 1,269 keys (423 modules x down/up/alpha).
    /// </summary>
    [Theory]
    [InlineData("ssd-1b-sgm.json", 423, 104_902_656L)]
    [InlineData("segmind-vega-sgm.json", 233, 59_781_120L)]
    public void FullSizeSsd1bAndVegaLcmLoraKeysMatchEveryTargetedModule(string manifest, int modules, long rank64Parameters)
    {
        var path = Path.Combine(TempDir, "model.safetensors");
        using (var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", manifest))))
            SparseCheckpoint.Write(path, doc.RootElement.GetProperty("tensors").EnumerateObject()
                .Select(p => new KeyValuePair<string, long[]>(p.Name, p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray())).ToList());
        using var checkpoint = SdxlCheckpoint.Open(path);
        using var meta = checkpoint.Configs.Build(ModelComponent.Unet, torch.device("meta"));
        var ours = WeightMap.ShapesOf(meta);
        var targets = LcmLoraTargets.Of(ours);
        Assert.Equal(modules, targets.Count);
        var map = new LoraNameMap(new Dictionary<string, IReadOnlyDictionary<string, long[]>> { [ModelComponent.Unet.Name()] = ours });

        foreach (var form in new[] { "kohya", "peft" })
        {
            var keys = targets.SelectMany(t => LcmLoraTargets.Keys(form, t.Module, t.Shape, 64)).ToList();
            var result = LoraMatcher.Match(LoraFile.FromHeader($"{manifest} {form}", keys), map, LoraMatchMode.Strict);
            var report = Assert.Single(result.Reports);
            Assert.True(result.IsComplete, report.ToString());
            Assert.Equal(modules, report.Matched);
            Assert.Equal(targets.Select(t => t.Module + ".weight").Order(StringComparer.Ordinal),
                result.Matches.Select(m => m.Target.Parameter).Order(StringComparer.Ordinal));
            Assert.Equal(rank64Parameters, keys.Where(k => k.Shape.Length > 0).Sum(k => k.Shape.Aggregate(1L, (a, b) => a * b)));
        }
    }

    /// <summary>Writes a rank-2 LoRA over <paramref name="targets"/> with random factors; returns them and alpha / r.</summary>
    private (string Path, Dictionary<string, (Arr Down, Arr Up)> Factors, double Scale) WriteLora(string form, List<(string Module, long[] Shape)> targets)
    {
        // Different alphas for the two forms, so a scale read from the wrong place shows.
        var alpha = form == "kohya" ? 1.0 : 3.0;
        var factors = new Dictionary<string, (Arr, Arr)>();
        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        var seed = 100;
        foreach (var (module, shape) in targets)
        {
            var keys = LcmLoraTargets.Keys(form, module, shape, Rank).ToList();
            var down = Arr.Random(seed++, keys[0].Shape);
            var up = Arr.Random(seed++, keys[1].Shape);
            factors[module] = (down, up);
            tensors.Add(new(keys[0].Key, down.ToTensor()));
            tensors.Add(new(keys[1].Key, up.ToTensor()));
            if (keys.Count > 2) tensors.Add(new(keys[2].Key, torch.tensor((float)alpha)));
        }
        var metadata = form == "peft"
            ? new Dictionary<string, string> { ["lora_adapter_metadata"] = $"{{\"r\": {Rank}, \"lora_alpha\": {alpha}}}" }
            : null;
        var path = Path.Combine(TempDir, $"lcm-lora-ssd-{form}.safetensors");
        SafeTensorsWriter.Save(path, tensors, metadata);
        foreach (var t in tensors) t.Value.Dispose();
        return (path, factors, alpha / Rank);
    }
}

/// <summary>
/// The modules diffusers' LCM-LoRA training scripts adapt (their default <c>target_modules</c>, reference-facts 4.4):
/// UNet only, never conv_in/conv_out, the time or add embeddings, or norms. PEFT picks a module when its name equals a
/// target or ends with "." + target.
/// </summary>
internal static class LcmLoraTargets
{
    private static readonly string[] TargetModules =
    [
        "to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2",
        "conv1", "conv2", "conv_shortcut", "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj",
    ];

    /// <summary>The targeted modules among diffusers UNet keys, with their weight shapes, in name order.</summary>
    public static List<(string Module, long[] Shape)> Of(IReadOnlyDictionary<string, long[]> unetKeys) =>
        [.. unetKeys.Where(kv => kv.Key.EndsWith(".weight", StringComparison.Ordinal))
            .Select(kv => (Module: kv.Key[..^".weight".Length], Shape: kv.Value))
            .Where(t => TargetModules.Any(target => t.Module == target || t.Module.EndsWith("." + target, StringComparison.Ordinal)))
            .OrderBy(t => t.Module, StringComparer.Ordinal)];

    /// <summary>
    /// A module's LoRA keys and shapes: down (kohya <c>lora_down</c>, PEFT <c>lora_A</c>) [r, in(, kh, kw)], up
    /// (<c>lora_up</c>/<c>lora_B</c>) [out, r(, 1, 1)], and for kohya the scalar <c>alpha</c>.
    /// </summary>
    public static IEnumerable<(string Key, long[] Shape)> Keys(string form, string module, long[] weight, int rank)
    {
        long[] down = [rank, .. weight[1..]];
        var up = weight.Length == 4 ? new long[] { weight[0], rank, 1, 1 } : new long[] { weight[0], rank };
        if (form == "kohya")
        {
            var key = "lora_unet_" + module.Replace('.', '_');
            yield return (key + ".lora_down.weight", down);
            yield return (key + ".lora_up.weight", up);
            yield return (key + ".alpha", Array.Empty<long>());
        }
        else
        {
            yield return ($"unet.{module}.lora_A.weight", down);
            yield return ($"unet.{module}.lora_B.weight", up);
        }
    }
}
