using System.Text.Json;
using LcmLora.IO;
using LcmLora.Lora;
using LcmLora.Models;
using LcmLora.Pipelines;
using LcmLora.Tests.Checkpoints;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Families;

/// <summary>
/// SD 1.5 LoRAs against diffusers + PEFT (fixtures/sd15/lora): the LCM-LoRA shape in kohya (diffusers module names) and
/// PEFT forms, a style LoRA with original (LDM) UNet names and <c>lora_te_</c> text-encoder keys, alone and combined;
/// fused weights to 1e-5 relative, outputs to 1e-4, unfuse bit for bit; the fused single file; the full-size
/// lcm-lora-sdv1-5 manifest against the full-size SD 1.5 manifest.
/// </summary>
[Trait("Category", "parity")]
public sealed class Sd15LoraTests : TempDirectoryTest
{
    public static TheoryData<string, string[], double[], bool> Cases => new()
    {
        { "lcm_kohya_scale_1_0", ["lcm_kohya"], [1.0], false },
        { "lcm_kohya_scale_0_5", ["lcm_kohya"], [0.5], true },
        { "lcm_peft_scale_1_0", ["lcm_peft"], [1.0], true },
        { "style_kohya_ldm_scale_1_0", ["style_kohya_ldm"], [1.0], false },
        { "style_kohya_ldm_scale_0_5", ["style_kohya_ldm"], [0.5], true },
        { "combined_lcm_style", ["lcm_kohya", "style_kohya_ldm"], [1.0, 0.8], false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedWeightsAndOutputsMatchAndUnfuseRestores(string caseName, string[] files, double[] weights, bool singleFile)
    {
        using var pipeline = singleFile
            ? SdxlPipeline.Load(Fixtures.Path("sd15", "ldm", "tiny_sd15.safetensors"), new PipelineOptions { ConfigDir = Fixtures.Path("sd15", "diffusers"), Precision = LcmLora.Runtime.ComputePrecision.Float32 })
            : SdxlPipeline.Load(Fixtures.Path("sd15", "diffusers"), new PipelineOptions { Precision = LcmLora.Runtime.ComputePrecision.Float32 });
        var before = Snapshot(pipeline);
        for (var i = 0; i < files.Length; i++)
        {
            var adapter = pipeline.Loras.Add(files[i], Fixtures.Path("sd15", "lora", files[i] + ".safetensors"), weights[i]);
            Assert.All(adapter.Reports, r => Assert.True(r.IsComplete, r.ToString()));
        }
        pipeline.Loras.Fuse();
        using (var expected = SafeTensorsFile.Open(Fixtures.Path("sd15", "lora", caseName, "outputs.safetensors")))
        {
            var live = Snapshot(pipeline);
            var fusedKeys = expected.Tensors.Select(t => t.Name).Where(n => n.StartsWith("fused.", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(fusedKeys);
            foreach (var key in fusedKeys) TensorAssert.Close(expected.Read(key), live[key["fused.".Length..]], 1e-5, key);
            CompareOutputs(pipeline, expected);
        }
        pipeline.Loras.Unfuse();
        var after = Snapshot(pipeline);
        foreach (var (key, original) in before) TensorAssert.Identical(original, after[key], key);
        using var baseOutputs = SafeTensorsFile.Open(Fixtures.Path("sd15", "lora", "base_outputs.safetensors"));
        CompareOutputs(pipeline, baseOutputs);
    }

    [Fact]
    public void FusingIntoTheLdmSingleFileGivesTheReferenceCheckpoint()
    {
        var input = Fixtures.Path("sd15", "ldm", "tiny_sd15.safetensors");
        var output = Path.Combine(TempDir, "fused.safetensors");
        CheckpointLoraFusion.Fuse(input, [new(Fixtures.Path("sd15", "lora", "lcm_kohya.safetensors"), 1.0), new(Fixtures.Path("sd15", "lora", "style_kohya_ldm.safetensors"), 0.8)],
            output, configDir: Fixtures.Path("sd15", "diffusers"));
        using var fused = SafeTensorsFile.Open(output);
        using var original = SafeTensorsFile.Open(input);
        using var expected = SafeTensorsFile.Open(Fixtures.Path("sd15", "lora", "fused_single_file", "changed_tensors.safetensors"));
        var changed = expected.Tensors.Select(t => t.Name).ToHashSet();
        Assert.Equal(295, changed.Count);
        Assert.Equal(original.Tensors.Select(t => t.Name), fused.Tensors.Select(t => t.Name));
        foreach (var t in original.Tensors)
        {
            if (changed.Contains(t.Name)) TensorAssert.Close(expected.Read(t.Name), fused.Read(t.Name), 1e-5, t.Name);
            else Assert.True(original.RawBytes(t.Name).SequenceEqual(fused.RawBytes(t.Name)), $"{t.Name} changed");
        }
    }

    [Theory]
    [InlineData("kohya_tensors")]
    [InlineData("peft_tensors")]
    public void FullSizeLcmLoraSd15MatchesEveryModuleOfFullSizeSd15(string form)
    {
        var model = Path.Combine(TempDir, "sd15.safetensors");
        using (var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sd15-ldm.json"))))
            SparseCheckpoint.Write(model, Shapes(doc.RootElement.GetProperty("tensors")));
        var lora = Path.Combine(TempDir, "lcm-lora-sdv1-5.safetensors");
        using (var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "lcm-lora-sdv1-5-rank64.json"))))
            SparseCheckpoint.Write(lora, Shapes(doc.RootElement.GetProperty(form)));
        using var checkpoint = LcmLora.Checkpoints.SdxlCheckpoint.Open(model);
        Assert.Equal("sd15", checkpoint.Family.Name);
        var shapes = new Dictionary<string, IReadOnlyDictionary<string, long[]>>();
        foreach (var c in new[] { ModelComponent.Unet, ModelComponent.TextEncoder })
        {
            using var meta = checkpoint.Configs.Build(c, torch.device("meta"));
            shapes[c.Name()] = LcmLora.Checkpoints.WeightMap.ShapesOf(meta);
        }
        using var file = LoraFile.Open(lora);
        var result = LoraMatcher.Match(file, new LoraNameMap(shapes, 2), LoraMatchMode.Strict);
        Assert.Equal(278, file.Modules.Count);
        Assert.Equal(278, result.Matches.Count);
    }

    private static List<KeyValuePair<string, long[]>> Shapes(JsonElement tensors) => tensors.EnumerateObject()
        .Select(p => new KeyValuePair<string, long[]>(p.Name, p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray())).ToList();

    private static void CompareOutputs(SdxlPipeline pipeline, SafeTensorsFile expected)
    {
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        using var inputs = SafeTensorsFile.Open(Fixtures.Path("sd15", "lora", "inputs.safetensors"));
        var models = pipeline.Models;
        // One batch item at a time: see FamilyParityTests (libtorch's batched 24->8 channel Conv2d on this CPU).
        var unet = torch.cat(Enumerable.Range(0, 2).Select(i => models.Unet.Forward(inputs.Read("sample")[i..(i + 1)], inputs.Read("timestep")[i..(i + 1)],
            inputs.Read("encoder_hidden_states")[i..(i + 1)])).ToArray(), 0);
        TensorAssert.Close(expected.Read("unet_out"), unet, 1e-4, "unet_out");
        using var te = models.TextEncoder!.Forward(inputs.Read("input_ids"));
        TensorAssert.Close(expected.Read("te_last_hidden_state"), te.LastHiddenState!, 1e-4, "te_last_hidden_state");
        TensorAssert.Close(expected.Read("te_hidden_states_m2"), te.HiddenStates[^2], 1e-4, "te_hidden_states_m2");
    }

    private static Dictionary<string, torch.Tensor> Snapshot(SdxlPipeline pipeline) =>
        pipeline.Models.Components.Where(c => c.Key != "vae")
            .SelectMany(c => c.Value.state_dict().Select(kv => (Key: c.Key + "." + kv.Key, Value: kv.Value.detach().clone())))
            .ToDictionary(x => x.Key, x => x.Value);
}
