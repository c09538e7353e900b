using LcmLora.Models.Blocks;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models;

[Trait("Category", "unit")]
public sealed class ResnetBlockConsumingTests
{
    [Theory]
    [InlineData(8, 8)]   // identity shortcut
    [InlineData(8, 16)]  // projected shortcut: the input is released after the first convolution
    public void ConsumingForwardEqualsForwardAndReleasesTheInput(long inChannels, long outChannels)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        manual_seed(9);
        using var block = new ResnetBlock2D(inChannels, outChannels, null, 4, 1e-6);
        foreach (var (name, p) in block.named_parameters()) // TorchSharp leaves GroupNorm's affine uninitialized
            if (name.StartsWith("norm", StringComparison.Ordinal)) p.uniform_(0.5, 1.5);
        var x = randn(1, inChannels, 6, 5);
        var expected = block.call(x, null);
        var consumed = x.clone();
        var actual = block.ForwardConsuming(consumed);
        TensorAssert.Identical(expected, actual);
        Assert.True(consumed.IsInvalid, "the consumed input was not disposed");
        Assert.False(x.IsInvalid);
    }
}
