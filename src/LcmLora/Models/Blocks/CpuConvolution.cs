using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// Works around two libtorch 2.10 CPU convolution kernel defects, both absent when the same convolution runs on a
/// channels-last input (measured on AMD EPYC Zen 5, AVX-512; `tests/.../CpuConvolutionTests` keeps checking that
/// libtorch's own kernels are still wrong, so the workaround can go when they are fixed):
/// <list type="bullet">
/// <item>a bf16 (or fp16) convolution of a contiguous NCHW input into <b>fewer than 16 output channels</b> is off by ~25%
/// relative to fp32 (32->3, 32->4, 32->8, 320->4, 128->3). Those are the output convolutions of the UNet (4 channels),
/// the VAE (3, 8 with the encoder's moments) and TAESD (3, 4).</item>
/// <item>a 3x3 convolution (stride 1 or 2, fp32 and bf16) with <b>more than 16 input channels that are not a multiple of
/// 16</b> (17, 20, 24, 33, 40, 100, 330...) returns values off by O(1), or NaN, once the input is large enough (batch 2,
/// or 32x32 at batch 1); 1x1 convolutions and multiples of 16 are exact. No released SDXL or SD 1.5 width hits it
/// (320, 640, 960, 1280, 1920, 2560; VAE 128-512), but small and custom models do (the tiny SD 1.5 test model's
/// 24-channel up blocks).</item>
/// </list>
/// Affected convolutions run here on a channels-last view of their input (one copy of the input, or of one band of it)
/// and return a contiguous result; every other convolution goes straight to libtorch.
/// </summary>
internal static class CpuConvolution
{
    private const long Channels = 16;

    /// <summary>Whether a convolution with <paramref name="weight"/> on <paramref name="input"/> hits a defect.</summary>
    public static bool Affected(Tensor input, Tensor weight) =>
        input.device_type == DeviceType.CPU && (
            (weight.shape[0] < Channels && input.dtype is ScalarType.BFloat16 or ScalarType.Float16) ||
            (weight.shape[1] > Channels && weight.shape[1] % Channels != 0 && (weight.shape[2] > 1 || weight.shape[3] > 1)));

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
