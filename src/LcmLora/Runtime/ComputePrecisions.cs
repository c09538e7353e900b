using TorchSharp;

namespace LcmLora.Runtime;

/// <summary>The dtype a <see cref="ComputePrecision"/> resolves to on a device, why, and what the caller should know.</summary>
/// <param name="DType">The compute dtype: Float32, BFloat16 or Float16.</param>
/// <param name="Reason">Why this dtype (e.g. "auto: CPU has avx512_bf16").</param>
/// <param name="Warning">Set when the choice will run very slowly on this hardware (bf16 or fp16 on a CPU without native support).</param>
public sealed record PrecisionChoice(torch.ScalarType DType, string Reason, string? Warning = null)
{
    /// <summary>The short name of <see cref="DType"/>: "fp32", "bf16" or "fp16".</summary>
    public string Name => ComputePrecisions.ShortName(DType);
}

/// <summary>
/// Resolves <see cref="ComputePrecision"/> to a dtype. Auto: bf16 on CPUs with AVX512_BF16 or AMX-BF16 (there bf16
/// matrix products run ~3-4x faster than fp32 and the weights take half the memory), bf16 on CUDA devices of compute
/// capability 8.0 or newer, fp16 on other CUDA devices, fp32 on every other CPU (without bf16 instructions libtorch
/// emulates bf16 matrix products, ~400x slower than fp32; no CPU has fast fp16 matrix kernels).
/// </summary>
public static class ComputePrecisions
{
    /// <summary>What <paramref name="precision"/> means on <paramref name="device"/> (default CPU) of this machine.</summary>
    public static PrecisionChoice Choose(ComputePrecision precision, torch.Device? device = null)
    {
        var type = device?.type ?? DeviceType.CPU;
        var index = device?.index ?? 0;
        return Choose(precision, type, () => CpuBf16Support.Feature, () => type == DeviceType.CUDA ? CudaBf16Support.IsSupported(index) : null);
    }

    /// <summary>The decision, with the hardware answers injected (tests).</summary>
    /// <param name="precision">What was asked for.</param>
    /// <param name="device">Where the models run.</param>
    /// <param name="cpuBf16Feature">The CPU's native bf16 feature ("avx512_bf16", "amx_bf16") or null.</param>
    /// <param name="cudaBf16">Whether the CUDA device supports bf16 (null: unknown).</param>
    internal static PrecisionChoice Choose(ComputePrecision precision, DeviceType device, Func<string?> cpuBf16Feature, Func<bool?> cudaBf16)
    {
        var cuda = device == DeviceType.CUDA;
        switch (precision)
        {
            case ComputePrecision.Float32:
                return new(torch.ScalarType.Float32, "requested");
            case ComputePrecision.BFloat16:
                return cuda || cpuBf16Feature() is not null
                    ? new(torch.ScalarType.BFloat16, "requested")
                    : new(torch.ScalarType.BFloat16, "requested",
                        "bf16 on a CPU without AVX512_BF16 or AMX-BF16 runs emulated and will be very slow (hundreds of times slower than fp32); use --dtype fp32 or auto.");
            case ComputePrecision.Float16:
                return cuda
                    ? new(torch.ScalarType.Float16, "requested")
                    : new(torch.ScalarType.Float16, "requested",
                        "fp16 on a CPU has no fast matrix kernels and will be very slow (hundreds of times slower than fp32); use --dtype auto.");
            case ComputePrecision.Auto:
                if (cuda)
                    return cudaBf16() switch
                    {
                        true => new(torch.ScalarType.BFloat16, "auto: CUDA device supports bf16"),
                        false => new(torch.ScalarType.Float16, "auto: CUDA device without bf16 (compute capability < 8.0)"),
                        null => new(torch.ScalarType.Float16, "auto: CUDA device of unknown compute capability"),
                    };
                return cpuBf16Feature() is { } feature
                    ? new(torch.ScalarType.BFloat16, $"auto: CPU has {feature}")
                    : new(torch.ScalarType.Float32, "auto: CPU without native bf16");
            default:
                throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown compute precision.");
        }
    }

    /// <summary>Parses "auto", "fp32", "bf16" or "fp16" (case-insensitive).</summary>
    /// <exception cref="LcmLoraInputException">Any other name.</exception>
    public static ComputePrecision Parse(string name) => name.ToLowerInvariant() switch
    {
        "auto" => ComputePrecision.Auto,
        "fp32" or "float32" => ComputePrecision.Float32,
        "bf16" or "bfloat16" => ComputePrecision.BFloat16,
        "fp16" or "float16" => ComputePrecision.Float16,
        _ => throw new LcmLoraInputException($"Unknown dtype '{name}': expected auto, fp32, bf16 or fp16."),
    };

    /// <summary>"fp32", "bf16", "fp16", or the dtype's own name for others.</summary>
    public static string ShortName(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 => "fp32",
        torch.ScalarType.BFloat16 => "bf16",
        torch.ScalarType.Float16 => "fp16",
        _ => dtype.ToString(),
    };
}
