using LcmLora.IO;
using LcmLora.Pipelines;
using LcmLora.Tests.Pipelines;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Lora;

/// <summary>
/// A pipeline loaded from an fp16 single file restores unfused weights by converting the file's fp16 values straight
/// into the live fp32 weights: the result must be bit-identical to the weights right after loading.
/// </summary>
[Trait("Category", "parity")]
public sealed class UnfuseFromHalfCheckpointTests : TempDirectoryTest
{
    [Fact]
    public void UnfuseRestoresTheLoadedWeightsBitForBit()
    {
        var half = System.IO.Path.Combine(TempDir, "tiny_fp16.safetensors");
        using (var source = SafeTensorsFile.Open(Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors")))
        using (var scope = torch.NewDisposeScope())
            SafeTensorsWriter.Save(half, source.Tensors.ToDictionary(t => t.Name, t => source.Read(t.Name).to(torch.ScalarType.Float16)));

        using var pipeline = SdxlPipeline.Load(half, TinyPipelines.Fp32 with { ConfigDir = Fixtures.TinyConfigDir });
        using var before = WeightSnapshot.Of(pipeline.Models, NotVae);
        pipeline.Loras.Add("lcm", Fixtures.Path("lora", "lora_b.safetensors"));
        pipeline.Loras.Add("style", Fixtures.Path("lora", "lora_a.safetensors"), 0.8);
        pipeline.Loras.Fuse();
        using (var fused = WeightSnapshot.Of(pipeline.Models, NotVae))
            Assert.Contains(before.Weights, kv => !TensorAssert.AreIdentical(kv.Value, fused.Weights[kv.Key])); // fusing changed weights
        pipeline.Loras.Unfuse();
        using var after = WeightSnapshot.Of(pipeline.Models, NotVae);
        before.AssertIdentical(after);
    }

    internal static bool NotVae(string component) => component != "vae";
}
