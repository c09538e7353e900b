using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// A stride-1, same-padded convolution computed in horizontal bands of output rows, each band from only the input
/// rows it needs, produced on demand by a row source. Used for the VAE decoder's full-resolution activations:
/// libtorch's CPU convolution reorders its whole input and output into blocked layouts (measured: a 3x3 conv over a
/// 268 MB activation held about four times that), and a normalized or upsampled input would otherwise be
/// materialized in full first. Banding bounds both to one band, so a 512x512 decode needs a fraction of the memory;
/// each output element is the same sum of products as the unbanded convolution.
/// </summary>
internal static class BandedConvolution
{
    /// <summary>Activations at least this large (bytes) are convolved in bands. Tests lower it.</summary>
    internal static long ThresholdBytes { get; set; } = 64L << 20;

    /// <summary>Rows per band are chosen so a band's input is about this large (bytes). Tests lower it.</summary>
    internal static long BandBytes { get; set; } = 2L << 20;

    /// <summary>Whether an activation of <paramref name="shape"/> and <paramref name="elementSize"/> is banded.</summary>
    public static bool Applies(long[] shape, long elementSize) =>
        shape.Length == 4 && shape.Aggregate(elementSize, (a, b) => a * b) >= ThresholdBytes;

    /// <summary>
    /// Computes <c>conv(input)</c> where the conv's input <c>[N, C, height, width]</c> is given by
    /// <paramref name="rows"/>: <c>rows(a, b)</c> returns its rows <c>a..b-1</c> (the source may compute them).
    /// The conv must have stride 1, dilation 1, one group, an odd square kernel and padding (k-1)/2 (zeros).
    /// </summary>
    /// <param name="conv">The convolution.</param>
    /// <param name="rows">The input's rows.</param>
    /// <param name="batch">N.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">Input (and output) height.</param>
    /// <param name="width">Input (and output) width.</param>
    /// <param name="addend"><c>addend(a, b)</c>: rows added to output rows <c>a..b-1</c> (a residual), or null.</param>
    /// <param name="into">
    /// Write the output into this tensor instead of a new one. It may be the tensor <paramref name="rows"/> reads
    /// from: each band is written only after the next band has been computed, when no later band reads its rows.
    /// </param>
    public static Tensor Apply(Conv2d conv, Func<long, long, Tensor> rows, long batch, long channels, long height, long width,
        Func<long, long, Tensor>? addend = null, Tensor? into = null)
    {
        var weight = conv.weight;
        var kernel = weight.shape[2];
        var pad = (kernel - 1) / 2;
        var output = into ?? empty([batch, weight.shape[0], height, width], dtype: weight.dtype, device: weight.device);
        var rowBytes = Math.Max(1, batch * channels * width * weight.ElementSize);
        var band = Math.Max(kernel, BandBytes / rowBytes);
        using var pendingScope = NewDisposeScope();
        Tensor? pending = null;
        long pendingRow = 0;
        for (long r0 = 0; r0 < height; r0 += band)
        {
            using var scope = NewDisposeScope();
            var r1 = Math.Min(height, r0 + band);
            var a = Math.Max(0, r0 - pad);
            var b = Math.Min(height, r1 + pad);
            var source = rows(a, b);
            var top = pad - (r0 - a);
            var bottom = pad - (b - r1);
            if (top > 0 || bottom > 0) source = nn.functional.pad(source, [0, 0, top, bottom]);
            var y = CpuConvolution.Apply(source, weight, conv.bias, [0, pad]);
            if (addend is not null) y.add_(addend(r0, r1));
            if (pending is not null) Write(output, pending, pendingRow);
            pending = y.MoveToOuterDisposeScope();
            pendingRow = r0;
        }
        if (pending is not null) Write(output, pending, pendingRow);
        return output;

        static void Write(Tensor output, Tensor band, long row)
        {
            output.narrow(2, row, band.shape[2]).copy_(band);
            band.Dispose();
        }
    }

    /// <summary><c>conv(input)</c>, banded over the rows of <paramref name="input"/>.</summary>
    public static Tensor Apply(Conv2d conv, Tensor input) =>
        Apply(conv, (a, b) => input.narrow(2, a, b - a), input.shape[0], input.shape[1], input.shape[2], input.shape[3]);

    /// <summary>
    /// <c>conv(silu(norm(input)))</c> without materializing the normalized activation: the GroupNorm statistics are
    /// computed once over the whole input, and each band's rows are normalized, scaled and activated on demand.
    /// </summary>
    /// <param name="conv">The convolution.</param>
    /// <param name="norm">The GroupNorm (affine) whose weight and bias are applied.</param>
    /// <param name="groups">Its group count.</param>
    /// <param name="eps">Its epsilon.</param>
    /// <param name="input">The activation <c>[N, C, H, W]</c>.</param>
    /// <param name="addend">Rows added to the output (see <see cref="Apply(Conv2d, Func{long, long, Tensor}, long, long, long, long, Func{long, long, Tensor}?, Tensor?)"/>).</param>
    /// <param name="overwriteInput">Write the result over <paramref name="input"/> (the conv must keep the channel
    /// count) and return it: no output tensor is allocated.</param>
    public static Tensor ApplyAfterNormSilu(Conv2d conv, GroupNorm norm, long groups, double eps, Tensor input,
        Func<long, long, Tensor>? addend = null, bool overwriteInput = false)
    {
        long n = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
        if (overwriteInput && conv.weight.shape[0] != c)
            throw new ArgumentException($"Overwriting the input needs a conv that keeps the channel count ({c}), not {conv.weight.shape[0]}.");
        using var stats = NewDisposeScope();
        var (variance, mean) = var_mean(input.reshape(n, groups, -1), dimensions: [2], unbiased: false, keepdim: false);
        var shift = mean.view(n, groups, 1, 1, 1);
        var scale = (variance + eps).rsqrt_().view(n, groups, 1, 1, 1);
        var gamma = norm.weight!.view(1, c, 1, 1);
        var beta = norm.bias!.view(1, c, 1, 1);
        Tensor Rows(long a, long b)
        {
            var x = input.narrow(2, a, b - a).reshape(n, groups, c / groups, b - a, w);
            var y = (x - shift).mul_(scale).view(n, c, b - a, w).mul_(gamma).add_(beta);
            return nn.functional.silu(y, inplace: true);
        }
        var output = Apply(conv, Rows, n, c, h, w, addend, overwriteInput ? input : null);
        return overwriteInput ? output : output.MoveToOuterDisposeScope();
    }

    /// <summary><c>conv(upsample_nearest_2x(input))</c> without materializing the upsampled activation.</summary>
    public static Tensor ApplyAfterUpsample2x(Conv2d conv, Tensor input)
    {
        long n = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
        Tensor Rows(long a, long b)
        {
            var i0 = a / 2;
            var i1 = (b - 1) / 2 + 1;
            var up = input.narrow(2, i0, i1 - i0).repeat_interleave(2, dim: 2).repeat_interleave(2, dim: 3);
            return up.narrow(2, a - 2 * i0, b - a);
        }
        return Apply(conv, Rows, n, c, 2 * h, 2 * w);
    }
}
