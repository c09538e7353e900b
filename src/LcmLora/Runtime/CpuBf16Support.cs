using System.Runtime.Intrinsics.X86;

namespace LcmLora.Runtime;

/// <summary>
/// Whether this CPU has native bfloat16 dot products, read from CPUID (so it works on every OS .NET runs on):
/// AVX512_BF16 is leaf 7 subleaf 1 EAX bit 5, AMX-BF16 is leaf 7 subleaf 0 EDX bit 22 (Intel SDM vol. 2A, CPUID,
/// "Structured Extended Feature Enumeration"). AVX512_BF16 counts only when the OS has enabled AVX-512 state
/// (<see cref="Avx512F.IsSupported"/>). Without either, libtorch emulates bf16 matrix products and they run
/// hundreds of times slower than fp32.
/// </summary>
internal static class CpuBf16Support
{
    private const int Avx512Bf16Bit = 5;   // CPUID.(EAX=7, ECX=1):EAX[5]
    private const int AmxBf16Bit = 22;     // CPUID.(EAX=7, ECX=0):EDX[22]

    private static readonly Lazy<string?> Detected = new(Detect);

    /// <summary>True when the CPU computes bf16 dot products natively.</summary>
    public static bool IsNative => Detected.Value is not null;

    /// <summary>The feature that makes bf16 native ("avx512_bf16" or "amx_bf16"), or null.</summary>
    public static string? Feature => Detected.Value;

    /// <summary>Decodes the CPUID words: leaf 7 subleaf 0 EAX (the highest subleaf) and EDX, leaf 7 subleaf 1 EAX.</summary>
    internal static string? Decode(int maxLeaf, int leaf7Sub0Eax, int leaf7Sub0Edx, int leaf7Sub1Eax, bool osHasAvx512)
    {
        if (maxLeaf < 7) return null;
        if (osHasAvx512 && leaf7Sub0Eax >= 1 && (leaf7Sub1Eax & (1 << Avx512Bf16Bit)) != 0) return "avx512_bf16";
        if ((leaf7Sub0Edx & (1 << AmxBf16Bit)) != 0) return "amx_bf16";
        return null;
    }

    private static string? Detect()
    {
        if (!X86Base.IsSupported) return null;
        var (maxLeaf, _, _, _) = X86Base.CpuId(0, 0);
        if (maxLeaf < 7) return null;
        var (sub0Eax, _, _, sub0Edx) = X86Base.CpuId(7, 0);
        var sub1Eax = sub0Eax >= 1 ? X86Base.CpuId(7, 1).Eax : 0;
        return Decode(maxLeaf, sub0Eax, sub0Edx, sub1Eax, Avx512F.IsSupported);
    }
}
