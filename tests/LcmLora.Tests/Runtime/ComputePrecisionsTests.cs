using LcmLora.Runtime;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Runtime;

/// <summary>The Auto precision rule and the CPUID decoding, with the hardware answers injected.</summary>
[Trait("Category", "unit")]
public class ComputePrecisionsTests
{
    private static PrecisionChoice Choose(ComputePrecision p, DeviceType device, string? cpuFeature, bool? cudaBf16 = null) =>
        ComputePrecisions.Choose(p, device, () => cpuFeature, () => cudaBf16);

    [Theory]
    [InlineData("avx512_bf16", torch.ScalarType.BFloat16)]
    [InlineData("amx_bf16", torch.ScalarType.BFloat16)]
    [InlineData(null, torch.ScalarType.Float32)]
    public void AutoOnCpuFollowsNativeBf16(string? feature, torch.ScalarType expected)
    {
        var choice = Choose(ComputePrecision.Auto, DeviceType.CPU, feature);
        Assert.Equal(expected, choice.DType);
        Assert.Null(choice.Warning);
        Assert.StartsWith("auto", choice.Reason);
    }

    [Theory]
    [InlineData(true, torch.ScalarType.BFloat16)]
    [InlineData(false, torch.ScalarType.Float16)]
    [InlineData(null, torch.ScalarType.Float16)]
    public void AutoOnCudaIsBf16WhereSupportedElseFp16(bool? cudaBf16, torch.ScalarType expected)
    {
        // The CPU's answer must not matter on CUDA.
        Assert.Equal(expected, Choose(ComputePrecision.Auto, DeviceType.CUDA, "avx512_bf16", cudaBf16).DType);
        Assert.Equal(expected, Choose(ComputePrecision.Auto, DeviceType.CUDA, null, cudaBf16).DType);
    }

    [Fact]
    public void ExplicitBf16OnCpuWithoutNativeSupportRunsButWarns()
    {
        var slow = Choose(ComputePrecision.BFloat16, DeviceType.CPU, null);
        Assert.Equal(torch.ScalarType.BFloat16, slow.DType);
        Assert.Contains("very slow", slow.Warning);
        Assert.Null(Choose(ComputePrecision.BFloat16, DeviceType.CPU, "avx512_bf16").Warning);
        Assert.Null(Choose(ComputePrecision.BFloat16, DeviceType.CUDA, null, false).Warning);
    }

    [Fact]
    public void ExplicitChoicesAreKept()
    {
        Assert.Equal(torch.ScalarType.Float32, Choose(ComputePrecision.Float32, DeviceType.CPU, "avx512_bf16").DType);
        Assert.Equal(torch.ScalarType.Float16, Choose(ComputePrecision.Float16, DeviceType.CUDA, null, true).DType);
        Assert.NotNull(Choose(ComputePrecision.Float16, DeviceType.CPU, "avx512_bf16").Warning);
    }

    [Theory]
    [InlineData("auto", ComputePrecision.Auto)]
    [InlineData("fp32", ComputePrecision.Float32)]
    [InlineData("BF16", ComputePrecision.BFloat16)]
    [InlineData("fp16", ComputePrecision.Float16)]
    public void NamesParse(string name, ComputePrecision expected) => Assert.Equal(expected, ComputePrecisions.Parse(name));

    [Fact]
    public void UnknownNameIsAnInputError() =>
        Assert.Contains("fp8", Assert.Throws<LcmLoraInputException>(() => ComputePrecisions.Parse("fp8")).Message);

    [Theory]
    // maxLeaf, leaf 7.0 EAX (max subleaf), leaf 7.0 EDX, leaf 7.1 EAX, OS AVX-512 state, expected
    [InlineData(0x10, 1, 0, 1 << 5, true, "avx512_bf16")]      // Zen 4/5, Cooper Lake: 7.1 EAX bit 5
    [InlineData(0x10, 1, 0, 1 << 5, false, null)]              // AVX-512 state not enabled by the OS
    [InlineData(0x10, 0, 0, 1 << 5, true, null)]               // subleaf 1 not reported: its word is not read
    [InlineData(0x10, 1, 1 << 22, 0, false, "amx_bf16")]       // AMX-BF16: 7.0 EDX bit 22
    [InlineData(0x10, 1, 1 << 24, 1 << 4, true, null)]         // AMX-TILE alone, AVX-VNNI (bit 4): no bf16
    [InlineData(0x06, 1, 1 << 22, 1 << 5, true, null)]         // no leaf 7
    public void CpuidWordsDecode(int maxLeaf, int sub0Eax, int sub0Edx, int sub1Eax, bool osAvx512, string? expected) =>
        Assert.Equal(expected, CpuBf16Support.Decode(maxLeaf, sub0Eax, sub0Edx, sub1Eax, osAvx512));

    [Fact]
    public void DetectionAgreesWithTheKernelsCpuFlags()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo")) return;
        var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ') ?? [];
        var kernelSays = flags.Contains("avx512_bf16") || flags.Contains("amx_bf16");
        Assert.Equal(kernelSays, CpuBf16Support.IsNative);
        Assert.Equal(kernelSays ? torch.ScalarType.BFloat16 : torch.ScalarType.Float32, ComputePrecisions.Choose(ComputePrecision.Auto).DType);
    }
}
