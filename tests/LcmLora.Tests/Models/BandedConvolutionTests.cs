using LcmLora.Models.Blocks;
using LcmLora.Tests.Models.Vae;
using LcmLora.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models;

/// <summary>
/// Banded convolutions against the unbanded ops: bands of 1-3 rows put every edge case (top and bottom padding,
/// a last partial band, odd upsampled rows) inside small tensors. Then the whole tiny VAE decoded with every
/// activation banded, against diffusers.
/// </summary>
[Trait("Category", "parity")]
public sealed class BandedConvolutionTests
{
    private const double Tolerance = 1e-5;

    private static IDisposable SmallBands(long bandBytes)
    {
        var (threshold, band) = (BandedConvolution.ThresholdBytes, BandedConvolution.BandBytes);
        BandedConvolution.ThresholdBytes = 0;
        BandedConvolution.BandBytes = bandBytes;
        return new Restore(() => (BandedConvolution.ThresholdBytes, BandedConvolution.BandBytes) = (threshold, band));
    }

    /// <summary>A GroupNorm with random affine parameters (TorchSharp leaves them uninitialized).</summary>
    private static TorchSharp.Modules.GroupNorm AffineGroupNorm(long groups, long channels)
    {
        var norm = nn.GroupNorm(groups, channels, 1e-6);
        norm.weight!.uniform_(0.5, 1.5);
        norm.bias!.uniform_(-0.5, 0.5);
        return norm;
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(3, 7)]
    [InlineData(1, 2)]
    public void BandedConvEqualsTheConv(long kernel, long bandRows)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        manual_seed(3);
        using var conv = nn.Conv2d(6, 5, kernel, padding: (kernel - 1) / 2);
        var x = randn(2, 6, 11, 9);
        using var bands = SmallBands(bandRows * 2 * 6 * 9 * 4);
        TensorAssert.Close(conv.call(x), BandedConvolution.Apply(conv, x), Tolerance, $"k{kernel} band {bandRows}");
    }

    [Fact]
    public void BandedNormSiluConvEqualsGroupNormSiluConv()
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        manual_seed(4);
        using var conv = nn.Conv2d(8, 4, 3, padding: 1);
        using var norm = AffineGroupNorm(4, 8);
        var x = randn(1, 8, 10, 7) * 3 + 1;
        using var bands = SmallBands(3 * 8 * 7 * 4);
        var expected = conv.call(nn.functional.silu(norm.call(x)));
        TensorAssert.Close(expected, BandedConvolution.ApplyAfterNormSilu(conv, norm, 4, 1e-6, x), Tolerance, "norm-silu-conv");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void OverwritingTheInputWithAResidualEqualsConvPlusResidual(long bandRows)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        manual_seed(6);
        using var conv = nn.Conv2d(8, 8, 3, padding: 1);
        using var norm = AffineGroupNorm(2, 8);
        var x = randn(1, 8, 9, 6);
        var residual = randn(1, 8, 9, 6);
        var expected = conv.call(nn.functional.silu(norm.call(x))) + residual;
        using var bands = SmallBands(bandRows * 8 * 6 * 4);
        var result = BandedConvolution.ApplyAfterNormSilu(conv, norm, 2, 1e-6, x, (a, b) => residual.narrow(2, a, b - a), overwriteInput: true);
        Assert.Same(x, result);
        TensorAssert.Close(expected, x, Tolerance, $"in place, band {bandRows}");
    }

    [Fact]
    public void BandedUpsampleConvEqualsNearestUpsampleThenConv()
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        manual_seed(5);
        using var conv = nn.Conv2d(3, 3, 3, padding: 1);
        var x = randn(1, 3, 5, 4);
        using var bands = SmallBands(3 * 3 * 8 * 4);
        var expected = conv.call(nn.functional.interpolate(x, size: [10, 8], mode: InterpolationMode.Nearest));
        TensorAssert.Close(expected, BandedConvolution.ApplyAfterUpsample2x(conv, x), Tolerance, "upsample-conv");
    }

    [Fact]
    public void TinyVaeDecodedWithEveryActivationBandedMatchesDiffusers()
    {
        using var vae = AutoencoderKLParityTests.LoadTinyVae();
        using var data = SafeTensorsFile.Open(Fixtures.Path("vae", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var bands = SmallBands(1024);
        var latents = data.Read("latents") / vae.Config.ScalingFactor;
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var decoded = vae.Decode(latents);
        Assert.Equal(before + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount); // only the image is left alive
        TensorAssert.Close(data.Read("decoded_image"), decoded, 1e-4, "banded decode");
    }
}
