using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// diffusers <c>Upsample2D</c> with a convolution: nearest-neighbour resize (2x, or to an explicit size) followed by
/// a 3x3 <c>conv</c>. Large 2x outputs are computed in bands of rows without materializing the resized input.
/// </summary>
internal sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Conv2d conv;
#pragma warning restore IDE1006

    /// <summary>Creates the upsampler.</summary>
    public Upsample2D(long channels, Device? device = null, ScalarType? dtype = null) : base(nameof(Upsample2D))
    {
        conv = nn.Conv2d(channels, channels, 3, stride: 1, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Doubles the spatial size of <c>[B, C, H, W]</c>.</summary>
    public override Tensor forward(Tensor input) =>
        BandedConvolution.Applies([input.shape[0], input.shape[1], input.shape[2] * 2, input.shape[3] * 2], input.ElementSize)
            ? BandedConvolution.ApplyAfterUpsample2x(conv, input)
            : Resize(input, new[] { input.shape[2] * 2, input.shape[3] * 2 });

    /// <summary>
    /// Resizes <c>[B, C, H, W]</c> to <paramref name="size"/> (height, width) by nearest neighbour, then convolves.
    /// For exactly twice the input size this equals the 2x path.
    /// </summary>
    public Tensor Resize(Tensor input, long[] size)
    {
        using var scope = NewDisposeScope();
        var resized = nn.functional.interpolate(input, size: size, mode: InterpolationMode.Nearest);
        return CpuConvolution.Call(conv, resized).MoveToOuterDisposeScope();
    }
}
