using System.Diagnostics;
using LcmLora.Lora;
using Xunit;
using Xunit.Abstractions;

namespace LcmLora.Tests.Lora;

[Trait("Category", "slow")]
public class LoraFuseCycleTests(ITestOutputHelper output)
{
    [Fact]
    public void ThousandFuseUnfuseCyclesLeaveEveryWeightBitIdentical()
    {
        using var model = TinyLoraModel.Load();
        var before = model.Snapshot();
        using var set = new LoraAdapterSet(model.Components);
        set.Add("lcm", TinyLoraModel.LoraPath('b'), 1.0);
        set.Add("style", TinyLoraModel.LoraPath('a'), 0.8);
        set.Fuse();
        var fusedCount = set.FusedParameters.Values.Sum(p => p.Count);
        set.Unfuse();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 1000; i++)
        {
            set.Fuse();
            if (i % 100 == 0) Assert.NotNull(model.FirstDifference(before)); // fusing does change weights
            if (i % 3 == 1) set.SetWeight("style", 0.8 - 0.0007 * i); // re-fuses from the originals
            set.Unfuse();
            var diff = model.FirstDifference(before);
            Assert.True(diff == null, $"cycle {i}: {diff} differs from the original");
        }
        output.WriteLine($"1000 cycles (fuse + unfuse, every 3rd with a re-fuse) of {fusedCount} weights: {watch.Elapsed.TotalSeconds:F1} s");
        TinyLoraModel.DisposeAll(before);
    }
}
