using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using TorchSharp;

namespace LcmLora.Benchmarks.Machine;

/// <summary>
/// This machine's fp32 matrix-multiply ceiling: torch.mm of two 4096x4096 matrices (137.4 GFLOP). The floor of a
/// model benchmark is its counted FLOPs divided by this rate.
/// </summary>
[Config(typeof(KernelJobConfig))]
public class MatmulRateBenchmarks
{
    private torch.Tensor _a = null!;
    private torch.Tensor _b = null!;

    /// <summary>Allocates the operands.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        using var g = new torch.Generator(3);
        _a = torch.randn([4096, 4096], generator: g);
        _b = torch.randn([4096, 4096], generator: g);
    }

    /// <summary>One product.</summary>
    [Benchmark, Flops(Work.Sgemm4096)]
    public void Sgemm4096()
    {
        using var _ = torch.inference_mode();
        using var c = _a.mm(_b);
    }

    /// <summary>Frees the operands.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _a?.Dispose();
        _b?.Dispose();
    }
}

/// <summary>
/// This machine's fp32 3x3 convolution rate (stride 1, padding 1, bias, batch 1) at the shapes SDXL runs at 512x512:
/// the UNet levels (320@64², 640@32², 1280@16²) and the VAE decoder levels (512@64², 512@128², 256@256², 128@512²).
/// </summary>
[Config(typeof(KernelJobConfig))]
public class ConvRateBenchmarks
{
    private torch.Tensor _input = null!;
    private torch.Tensor _weight = null!;
    private torch.Tensor _bias = null!;

    /// <summary>"C@HxW": C channels in and out, H x W pixels.</summary>
    [Params("320@64x64", "640@32x32", "1280@16x16", "512@64x64", "512@128x128", "256@256x256", "128@512x512")]
    public string Shape { get; set; } = "320@64x64";

    /// <summary>Allocates input and weights.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        var op = ConvShape.Parse(Shape);
        using var g = new torch.Generator(4);
        _input = torch.randn([1, op.InChannels, op.Height, op.Width], generator: g);
        _weight = torch.randn([op.OutChannels, op.InChannels, 3, 3], generator: g) * (1.0 / Math.Sqrt(op.InChannels * 9));
        _bias = torch.zeros(op.OutChannels);
    }

    /// <summary>One convolution.</summary>
    [Benchmark, Flops(Work.Conv3x3)]
    public void Conv3x3()
    {
        using var _ = torch.inference_mode();
        using var y = torch.nn.functional.conv2d(_input, _weight, _bias, padding: [1, 1]);
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _input?.Dispose();
        _weight?.Dispose();
        _bias?.Dispose();
    }
}
