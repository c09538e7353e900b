using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// Works around a libtorch 2.10 CPU kernel defect: a bf16 (or fp16) 2-D convolution of a contiguous NCHW input into
/// fewer than 16 output channels is off by ~25% relative to fp32 (measured: 32->3, 32->4, 32->8, 320->4, 128->3; 16 and
/// more channels, and the same convolution on a channels-last input, are within bf16 rounding, ~3e-3). Those are the
/// output convolutions of the UNet (4 channels), the VAE (3, 8 with the encoder's moments) and TAESD (3, 4): they run
/// here on a channels-last view of their input (one copy of the input, or of one band of it) and return a contiguous
/// result. Every other convolution, and any float32 one, goes straight to libtorch.
/// </summary>
internal static class NarrowConvolution
{
    private const long NarrowChannels = 16;

    /// <summary>Whether a convolution with <paramref name="weight"/> on <paramref name="input"/> hits the defect.</summary>
    public static bool Affected(Tensor input, Tensor weight) =>
        weight.shape[0] < NarrowChannels && input.device_type == DeviceType.CPU && input.dtype is ScalarType.BFloat16 or ScalarType.Float16;

    /// <summary><c>conv(input)</c>.</summary>
    public static Tensor Call(Conv2d conv, Tensor input)
    {
        if (!Affected(input, conv.weight!)) return conv.call(input);
        using var scope = NewDisposeScope();
        return conv.call(ChannelsLast(input)).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary><c>conv2d(input, weight, bias, padding)</c> with stride 1.</summary>
    public static Tensor Apply(Tensor input, Tensor weight, Tensor? bias, long[] padding)
    {
        if (!Affected(input, weight)) return nn.functional.conv2d(input, weight, bias, padding: padding);
        using var scope = NewDisposeScope();
        return nn.functional.conv2d(ChannelsLast(input), weight, bias, padding: padding).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Runs the layers of <paramref name="sequence"/> in order, each convolution through <see cref="Call"/>.</summary>
    public static Tensor Run(Sequential sequence, Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input;
        foreach (var layer in sequence.children())
            x = layer is Conv2d conv ? Call(conv, x) : ((nn.Module<Tensor, Tensor>)layer).call(x);
        return (ReferenceEquals(x, input) ? x.alias() : x).MoveToOuterDisposeScope();
    }

    /// <summary>The same values in channels-last memory order (NCHW shape, NHWC strides).</summary>
    private static Tensor ChannelsLast(Tensor input) => input.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
}
