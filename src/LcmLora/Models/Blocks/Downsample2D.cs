using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// diffusers <c>Downsample2D</c> with a convolution: a stride-2 3x3 <c>conv</c>. With padding 1 (UNet) the conv pads
/// symmetrically; with padding 0 (VAE encoder) the input is first padded by one zero row/column at the bottom and
/// right only, as diffusers does.
/// </summary>
internal sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Conv2d conv;
#pragma warning restore IDE1006
    private readonly bool _asymmetricPad;

    /// <summary>Creates the downsampler.</summary>
    /// <param name="channels">Input and output channels.</param>
    /// <param name="padding">Conv padding: 1 (symmetric) or 0 (asymmetric bottom/right pad before the conv).</param>
    /// <param name="device">Where to create the parameters.</param>
    /// <param name="dtype">Parameter dtype.</param>
    public Downsample2D(long channels, int padding, Device? device = null, ScalarType? dtype = null) : base(nameof(Downsample2D))
    {
        if (padding is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(padding), padding, "Downsample padding must be 0 or 1.");
        conv = nn.Conv2d(channels, channels, 3, stride: 2, padding: padding, device: device, dtype: dtype);
        _asymmetricPad = padding == 0;
        RegisterComponents();
    }

    /// <summary>Halves the spatial size of <c>[B, C, H, W]</c>.</summary>
    public override Tensor forward(Tensor input)
    {
        if (!_asymmetricPad) return CpuConvolution.Call(conv, input);
        using var scope = NewDisposeScope();
        var padded = nn.functional.pad(input, new long[] { 0, 1, 0, 1 }, PaddingModes.Constant, 0.0);
        return CpuConvolution.Call(conv, padded).MoveToOuterDisposeScope();
    }
}
