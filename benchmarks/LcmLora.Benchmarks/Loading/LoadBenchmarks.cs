using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Checkpoints;

namespace LcmLora.Benchmarks.Loading;

/// <summary>
/// Loading a whole SDXL checkpoint (all four components) into an fp32 CPU model: for full size, the fp16 single file
/// (6.9 GB, warm page cache) to 13.9 GB of fp32 weights, including opening, config inference and key mapping. Every
/// invocation loads and frees the model; Run peak RSS is the peak of a load. The fresh-process figure is
/// <c>load-fresh</c>.
/// </summary>
[Config(typeof(ShortJobConfig))]
public class LoadBenchmarks
{
    private string _path = "";

    /// <summary>Which model.</summary>
    [ParamsSource(typeof(BenchModels), nameof(BenchModels.Selected))]
    public string Model { get; set; } = BenchModels.Full;

    /// <summary>Resolves (and writes, once) the checkpoint.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        _path = BenchModels.PathOf(Model);
    }

    /// <summary>Open, load in fp32, free.</summary>
    [Benchmark]
    public void LoadCheckpointToFp32()
    {
        using var checkpoint = SdxlCheckpoint.Open(_path);
        using var models = checkpoint.Load();
    }
}
