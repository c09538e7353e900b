using System.Text.Json;
using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Lora;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace LcmLora.Tests.Lora;

[Trait("Category", "parity")]
public class FusedCheckpointWriterTests(ITestOutputHelper output)
{
    /// <summary>
    /// Test-local map of the changed text-encoder parameters to the SGM single-file keys (the real one,
    /// ClipSgmKeyMap, is written elsewhere): CLIP-L keeps HF names under a prefix; bigG is open_clip, whose
    /// q/k/v live stacked by rows in attn.in_proj_weight.
    /// </summary>
    private static WeightMap TextEncoderMap(string component, IEnumerable<string> names)
    {
        if (component == LoraComponents.TextEncoder) return WeightMap.Identity(names, "conditioner.embedders.0.transformer.");
        var entries = new Dictionary<string, TensorRef>();
        foreach (var name in names)
        {
            var m = System.Text.RegularExpressions.Regex.Match(name, @"^text_model\.encoder\.layers\.(\d+)\.(.+)\.weight$");
            if (!m.Success) continue;
            var block = $"conditioner.embedders.1.model.transformer.resblocks.{m.Groups[1].Value}.";
            var part = m.Groups[2].Value switch { "self_attn.q_proj" => 0, "self_attn.k_proj" => 1, "self_attn.v_proj" => 2, _ => -1 };
            entries[name] = part >= 0
                ? new TensorRef(block + "attn.in_proj_weight", TensorTransform.None, part, 3)
                : new TensorRef(block + m.Groups[2].Value switch
                {
                    "self_attn.out_proj" => "attn.out_proj.weight",
                    "mlp.fc1" => "mlp.c_fc.weight",
                    "mlp.fc2" => "mlp.c_proj.weight",
                    var other => other,
                });
        }
        return new WeightMap(entries, _ => true, _ => false);
    }

    [Fact]
    public void FusedSingleFileMatchesTheReferenceAndLeavesEveryOtherTensorBitIdentical()
    {
        using var model = TinyLoraModel.Load();
        using var set = new LoraAdapterSet(model.Components);
        set.Add("lcm", TinyLoraModel.LoraPath('b'), 1.0);
        set.Add("style", TinyLoraModel.LoraPath('a'), 0.8);
        set.Fuse();

        var replacements = new Dictionary<string, torch.Tensor>();
        foreach (var (component, changed) in set.FusedParameters)
        {
            var names = model.Parameters[component].Keys.ToList();
            var map = component == LoraComponents.UNet ? new UNetSgmNames(names, 2).CheckpointMap(names) : TextEncoderMap(component, names);
            foreach (var (k, v) in FusedCheckpointWriter.ToFileKeys(model.Components[component], changed, map)) replacements.Add(k, v);
        }

        var dir = Directory.CreateTempSubdirectory("lcmlora-fused-").FullName;
        try
        {
            var outPath = Path.Combine(dir, "fused.safetensors");
            using (var input = SafeTensorsFile.Open(Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors")))
            {
                FusedCheckpointWriter.Write(input, replacements, outPath);
                using var written = SafeTensorsFile.Open(outPath);
                using var reference = SafeTensorsFile.Open(Fixtures.Path("lora", "fused_single_file", "changed_tensors.safetensors"));
                Assert.Equal(input.Tensors.Select(t => (t.Name, t.DType, t.ShapeText)), written.Tensors.Select(t => (t.Name, t.DType, t.ShapeText)));
                Assert.Equal(input.Metadata, written.Metadata);
                Assert.Equal(ChangedKeysFromCaseJson().Order(), reference.Tensors.Select(t => t.Name).Order());
                Assert.Equal(reference.Tensors.Select(t => t.Name).Order(), replacements.Keys.Order());

                double maxUNet = 0, maxText = 0;
                var identical = 0;
                foreach (var info in input.Tensors)
                {
                    if (!reference.Contains(info.Name))
                    {
                        Assert.True(input.RawBytes(info.Name).SequenceEqual(written.RawBytes(info.Name)), $"{info.Name} changed");
                        identical++;
                        continue;
                    }
                    Assert.False(input.RawBytes(info.Name).SequenceEqual(written.RawBytes(info.Name)), $"{info.Name} did not change");
                    using var e = reference.Read(info.Name);
                    using var a = written.Read(info.Name);
                    TensorAssert.Close(e, a, 1e-5, info.Name);
                    using var d = (a - e).abs().max();
                    if (info.Name.StartsWith(UNetSgmNames.CheckpointPrefix, StringComparison.Ordinal)) maxUNet = Math.Max(maxUNet, d.item<float>());
                    else maxText = Math.Max(maxText, d.item<float>());
                }
                output.WriteLine($"{replacements.Count} changed tensors (max |diff| UNet {maxUNet:E3}, text encoders {maxText:E3}); {identical} bit-identical");
            }
        }
        finally
        {
            foreach (var t in replacements.Values) t.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static IEnumerable<string> ChangedKeysFromCaseJson()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("lora", "fused_single_file", "case.json")));
        return doc.RootElement.GetProperty("tensors").EnumerateObject().Select(p => p.Name).ToList();
    }

    [Fact]
    public void WriterKeepsOrderMetadataAndDtypesAndCanForceAFloatType()
    {
        var dir = Directory.CreateTempSubdirectory("lcmlora-writer-").FullName;
        try
        {
            var inPath = Path.Combine(dir, "in.safetensors");
            using (var z = torch.arange(0, 12, dtype: torch.ScalarType.Float32).reshape(3, 4).to(torch.ScalarType.Float16))
            using (var a = torch.ones(2, 2, dtype: torch.ScalarType.BFloat16))
            using (var ids = torch.arange(0, 5, dtype: torch.ScalarType.Int64))
            using (var b = torch.full(4, 0.25f))
                SafeTensorsWriter.Save(inPath, [new("z.weight", z), new("a.weight", a), new("ids", ids), new("b", b)],
                    new Dictionary<string, string> { ["modelspec.title"] = "tiny", ["format"] = "pt", ["zz"] = "last" });

            using var input = SafeTensorsFile.Open(inPath);
            using var newZ = torch.full(3, 4, 1.5f); // float32 value written into an F16 slot
            var outPath = Path.Combine(dir, "out.safetensors");
            FusedCheckpointWriter.Write(input, new Dictionary<string, torch.Tensor> { ["z.weight"] = newZ }, outPath);
            using (var written = SafeTensorsFile.Open(outPath))
            {
                Assert.Equal(["z.weight", "a.weight", "ids", "b"], written.Tensors.Select(t => t.Name));
                Assert.Equal(["modelspec.title", "format", "zz"], written.Metadata.Keys);
                Assert.Equal(SafeTensorDType.F16, written.Info("z.weight").DType);
                using var z2 = written.Read("z.weight", torch.ScalarType.Float32);
                Assert.True(z2.eq(1.5f).all().item<bool>());
                foreach (var name in new[] { "a.weight", "ids", "b" }) Assert.True(input.RawBytes(name).SequenceEqual(written.RawBytes(name)), name);
            }

            var forced = Path.Combine(dir, "forced.safetensors");
            FusedCheckpointWriter.Write(input, new Dictionary<string, torch.Tensor> { ["z.weight"] = newZ }, forced, SafeTensorDType.F32);
            using (var written = SafeTensorsFile.Open(forced))
            {
                Assert.Equal([SafeTensorDType.F32, SafeTensorDType.F32, SafeTensorDType.I64, SafeTensorDType.F32], written.Tensors.Select(t => t.DType));
                Assert.True(input.RawBytes("b").SequenceEqual(written.RawBytes("b")));
                using var a2 = written.Read("a.weight");
                Assert.True(a2.eq(1f).all().item<bool>());
            }

            Assert.Throws<LcmLoraInputException>(() => FusedCheckpointWriter.Write(input, new Dictionary<string, torch.Tensor> { ["nope"] = newZ }, outPath));
            using var wrongShape = torch.zeros(4, 3);
            Assert.Throws<LcmLoraInputException>(() => FusedCheckpointWriter.Write(input, new Dictionary<string, torch.Tensor> { ["z.weight"] = wrongShape }, outPath));
            Assert.Throws<LcmLoraInputException>(() => FusedCheckpointWriter.Write(input, new Dictionary<string, torch.Tensor>(), inPath));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
