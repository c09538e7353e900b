using TorchSharp;

namespace LcmLora.IO;

/// <summary>The element types a safetensors header may name.</summary>
public enum SafeTensorDType
{
    /// <summary>64-bit float.</summary>
    F64,
    /// <summary>32-bit float.</summary>
    F32,
    /// <summary>IEEE half precision.</summary>
    F16,
    /// <summary>bfloat16.</summary>
    BF16,
    /// <summary>64-bit signed integer.</summary>
    I64,
    /// <summary>32-bit signed integer.</summary>
    I32,
    /// <summary>16-bit signed integer.</summary>
    I16,
    /// <summary>8-bit signed integer.</summary>
    I8,
    /// <summary>8-bit unsigned integer.</summary>
    U8,
    /// <summary>Boolean, one byte each.</summary>
    BOOL,
    /// <summary>8-bit float, 4 exponent bits, 3 mantissa bits, no infinities (float8_e4m3fn).</summary>
    F8_E4M3,
    /// <summary>8-bit float, 5 exponent bits, 2 mantissa bits.</summary>
    F8_E5M2,
}

/// <summary>Sizes, names and TorchSharp equivalents of <see cref="SafeTensorDType"/>.</summary>
internal static class SafeTensorDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this SafeTensorDType t) => t switch
    {
        SafeTensorDType.F64 or SafeTensorDType.I64 => 8,
        SafeTensorDType.F32 or SafeTensorDType.I32 => 4,
        SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.I16 => 2,
        _ => 1,
    };

    /// <summary>Parses a header dtype string; returns false for unknown names.</summary>
    public static bool TryParse(string s, out SafeTensorDType dtype) =>
        Enum.TryParse(s, ignoreCase: false, out dtype) && Enum.IsDefined(dtype) && s == dtype.ToString();

    /// <summary>
    /// The TorchSharp type that holds this dtype in memory. TorchSharp 0.107 has no float8 types: F8 tensors are
    /// widened to float32 when read.
    /// </summary>
    public static torch.ScalarType ToScalarType(this SafeTensorDType t) => t switch
    {
        SafeTensorDType.F64 => torch.ScalarType.Float64,
        SafeTensorDType.F32 => torch.ScalarType.Float32,
        SafeTensorDType.F16 => torch.ScalarType.Float16,
        SafeTensorDType.BF16 => torch.ScalarType.BFloat16,
        SafeTensorDType.I64 => torch.ScalarType.Int64,
        SafeTensorDType.I32 => torch.ScalarType.Int32,
        SafeTensorDType.I16 => torch.ScalarType.Int16,
        SafeTensorDType.I8 => torch.ScalarType.Int8,
        SafeTensorDType.U8 => torch.ScalarType.Byte,
        SafeTensorDType.BOOL => torch.ScalarType.Bool,
        _ => torch.ScalarType.Float32,
    };

    /// <summary>The safetensors dtype for a TorchSharp scalar type.</summary>
    /// <exception cref="ArgumentException">The type has no safetensors name (complex or quantized types).</exception>
    public static SafeTensorDType FromScalarType(torch.ScalarType t) => t switch
    {
        torch.ScalarType.Float64 => SafeTensorDType.F64,
        torch.ScalarType.Float32 => SafeTensorDType.F32,
        torch.ScalarType.Float16 => SafeTensorDType.F16,
        torch.ScalarType.BFloat16 => SafeTensorDType.BF16,
        torch.ScalarType.Int64 => SafeTensorDType.I64,
        torch.ScalarType.Int32 => SafeTensorDType.I32,
        torch.ScalarType.Int16 => SafeTensorDType.I16,
        torch.ScalarType.Int8 => SafeTensorDType.I8,
        torch.ScalarType.Byte => SafeTensorDType.U8,
        torch.ScalarType.Bool => SafeTensorDType.BOOL,
        _ => throw new ArgumentException($"Scalar type {t} cannot be stored in a safetensors file.", nameof(t)),
    };

    /// <summary>Widens one float8 value (bit pattern <paramref name="b"/>) to float32.</summary>
    internal static float Float8ToSingle(byte b, SafeTensorDType t)
    {
        var sign = (b & 0x80) != 0 ? -1f : 1f;
        if (t == SafeTensorDType.F8_E4M3)
        {
            int e = (b >> 3) & 0xF, m = b & 0x7;
            if (e == 0xF && m == 0x7) return float.NaN;
            return e == 0 ? sign * m / 8f * MathF.Pow(2, -6) : sign * (1 + m / 8f) * MathF.Pow(2, e - 7);
        }
        else
        {
            int e = (b >> 2) & 0x1F, m = b & 0x3;
            if (e == 0x1F) return m == 0 ? sign * float.PositiveInfinity : float.NaN;
            return e == 0 ? sign * m / 4f * MathF.Pow(2, -14) : sign * (1 + m / 4f) * MathF.Pow(2, e - 15);
        }
    }
}
