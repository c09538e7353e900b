using LcmLora.Pipelines;
using LcmLora.Runtime;
using LcmLora.Tests.Checkpoints;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Lora;

/// <summary>
/// LoRA on a bf16 pipeline: each fused weight is the fp32 value of the bf16 weight plus the fp32 delta, rounded once
/// to bf16; unfusing restores the loaded bf16 values bit for bit (re-read from the fp16 file and converted as at load).
/// </summary>
[Trait("Category", "parity")]
public sealed class Bf16LoraFusionTests : TempDirectoryTest
{
    [Fact]
    public void FuseRoundsOnceAndUnfuseRestoresTheLoadedBf16WeightsBitForBit()
    {
        var half = Bf16LoadingTests.TinyFileIn(TempDir, torch.ScalarType.Float16);
        using var fp32 = SdxlPipeline.Load(half, new PipelineOptions { Precision = ComputePrecision.Float32, ConfigDir = Fixtures.TinyConfigDir });
        using var bf16 = SdxlPipeline.Load(half, new PipelineOptions { Precision = ComputePrecision.BFloat16, ConfigDir = Fixtures.TinyConfigDir });
        foreach (var p in new[] { fp32, bf16 })
        {
            p.Loras.Add("lcm", Fixtures.Path("lora", "lora_b.safetensors"));
            p.Loras.Add("style", Fixtures.Path("lora", "lora_a.safetensors"), 0.8);
        }
        using var snapshot32 = WeightSnapshot.Of(fp32.Models, UnfuseFromHalfCheckpointTests.NotVae);
        using var snapshot16 = WeightSnapshot.Of(bf16.Models, UnfuseFromHalfCheckpointTests.NotVae);
        fp32.Loras.Fuse();
        bf16.Loras.Fuse();
        using var fusedSnapshot32 = WeightSnapshot.Of(fp32.Models, UnfuseFromHalfCheckpointTests.NotVae);
        using var fusedSnapshot16 = WeightSnapshot.Of(bf16.Models, UnfuseFromHalfCheckpointTests.NotVae);
        var (loaded32, loaded16, fused32, fused16) = (snapshot32.Weights, snapshot16.Weights, fusedSnapshot32.Weights, fusedSnapshot16.Weights);

        var changed = 0;
        foreach (var (key, before) in loaded16)
        {
            using var scope = torch.NewDisposeScope();
            // The fp32 pipeline's delta (fused - loaded, both fp32) added to the fp32 value of the bf16 weight.
            var delta = fused32[key] - loaded32[key];
            if (delta.abs().max().item<float>() == 0) continue;
            changed++;
            var expected = before.to(torch.ScalarType.Float32) + delta;
            var ours = fused16[key].to(torch.ScalarType.Float32);
            // One rounding to bf16: within a bf16 ulp of the sum, plus a few fp32 ulps of the operands (the fp32 pipeline
            // rounded each adapter's addition in fp32, so its delta differs from ours by that much where the sum cancels).
            var ulp = expected.abs() * Math.Pow(2, -7) + (before.to(torch.ScalarType.Float32).abs() + delta.abs()) * Math.Pow(2, -20);
            Assert.True((ours - expected).abs().le(ulp).all().item<bool>(), $"{key}: fused bf16 is not the once-rounded fp32 sum");
            // A delta rounded to bf16 before the add would be further off somewhere: check ours is the nearest bf16 to the sum on most elements.
            var nearest = expected.to(torch.ScalarType.BFloat16).to(torch.ScalarType.Float32);
            Assert.True(ours.eq(nearest).to(torch.ScalarType.Float32).mean().item<float>() > 0.99, $"{key}: not rounded once");
        }
        Assert.True(changed > 10, $"only {changed} weights changed by the LoRAs");

        bf16.Loras.Unfuse();
        using var restored = WeightSnapshot.Of(bf16.Models, UnfuseFromHalfCheckpointTests.NotVae);
        snapshot16.AssertIdentical(restored);
    }
}
