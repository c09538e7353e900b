using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using TorchSharp;

namespace LcmLora.Benchmarks.Machine;

/// <summary>
/// This machine's memory rates for the memory-bound work (loading, fusing, unfusing): copying 1 GiB of fp32 into an
/// existing tensor (reads 1 GiB, writes 1 GiB), and converting 0.5 GiB of fp16 into 1 GiB of fp32 (what loading an
/// fp16 checkpoint and unfusing from it do per weight), and allocating plus first-touching 1 GiB (what every new
/// weight tensor of a load costs before a byte is converted).
/// </summary>
[Config(typeof(KernelJobConfig))]
public class MemoryBandwidthBenchmarks
{
    private const long Elements = 1L << 28;
    private torch.Tensor _source = null!;
    private torch.Tensor _half = null!;
    private torch.Tensor _target = null!;

    /// <summary>Allocates and touches the tensors.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        _source = torch.ones(Elements);
        _half = torch.ones(Elements, dtype: torch.ScalarType.Float16);
        _target = torch.zeros(Elements);
    }

    /// <summary>1 GiB fp32 -> fp32 copy_.</summary>
    [Benchmark]
    public void CopyFp32OneGiB()
    {
        using var _ = torch.inference_mode();
        _target.copy_(_source);
    }

    /// <summary>0.5 GiB fp16 -> 1 GiB fp32 copy_ (conversion).</summary>
    [Benchmark]
    public void ConvertFp16ToFp32OneGiB()
    {
        using var _ = torch.inference_mode();
        _target.copy_(_half);
    }

    /// <summary>Allocating 1 GiB of fp32 and writing it once (first touch: page faults and the kernel zeroing pages).</summary>
    [Benchmark]
    public void AllocateAndFillOneGiB()
    {
        using var _ = torch.inference_mode();
        using var t = torch.empty(Elements);
        t.fill_(1f);
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _source?.Dispose();
        _half?.Dispose();
        _target?.Dispose();
    }
}
