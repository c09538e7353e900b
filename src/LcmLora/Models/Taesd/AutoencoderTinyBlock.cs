using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Taesd;

/// <summary>
/// The tiny autoencoder's residual block (diffusers' <c>AutoencoderTinyBlock</c>):
/// <c>relu(conv(x) + skip(x))</c>, where <c>conv</c> is conv3x3, act, conv3x3, act, conv3x3 (parameters at
/// <c>conv.0</c>, <c>conv.2</c>, <c>conv.4</c>) and <c>skip</c> is the identity, or a bias-free 1x1 conv when the
/// widths differ.
/// </summary>
internal sealed class AutoencoderTinyBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Sequential conv;
    private readonly nn.Module<Tensor, Tensor> skip;
    private readonly ReLU fuse;
#pragma warning restore IDE1006

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input width.</param>
    /// <param name="outChannels">Output width.</param>
    /// <param name="activation">Activation between the convs.</param>
    /// <param name="device">Where parameters live (<c>meta</c> builds the structure without memory).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    public AutoencoderTinyBlock(int inChannels, int outChannels, TaesdActivation activation, Device? device = null, ScalarType? dtype = null)
        : base(nameof(AutoencoderTinyBlock))
    {
        conv = nn.Sequential(
            Conv3x3(inChannels, outChannels, device, dtype),
            activation.CreateLayer(),
            Conv3x3(outChannels, outChannels, device, dtype),
            activation.CreateLayer(),
            Conv3x3(outChannels, outChannels, device, dtype));
        skip = inChannels == outChannels
            ? nn.Identity()
            : nn.Conv2d(inChannels, outChannels, kernel_size: 1, bias: false, device: device, dtype: dtype);
        fuse = nn.ReLU();
        RegisterComponents();
    }

    /// <summary>A 3x3 convolution with padding 1 (size-preserving at stride 1), as every TAESD conv.</summary>
    internal static Conv2d Conv3x3(long inChannels, long outChannels, Device? device, ScalarType? dtype, long stride = 1, bool bias = true) =>
        nn.Conv2d(inChannels, outChannels, kernel_size: 3, stride: stride, padding: 1, bias: bias, device: device, dtype: dtype);

    /// <summary>Applies the block to <c>[B, C, H, W]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fuse.call(conv.call(x) + skip.call(x)).MoveToOuterDisposeScope();
    }
}
