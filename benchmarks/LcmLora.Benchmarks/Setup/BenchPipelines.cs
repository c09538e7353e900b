using LcmLora.Pipelines;
using LcmLora.Runtime;

namespace LcmLora.Benchmarks.Setup;

/// <summary>Whole pipelines for the benchmarks.</summary>
public static class BenchPipelines
{
    /// <summary>The prompt every generation benchmark uses.</summary>
    public const string Prompt = "a photograph of an astronaut riding a horse on the moon, detailed, 8k";

    /// <summary>Loads a model as the library's users do (<see cref="SdxlPipeline.Load"/>, CPU, fp32 unless told) with the benchmark thread count.</summary>
    public static SdxlPipeline Load(string model, ComputePrecision precision = ComputePrecision.Float32)
    {
        BenchModels.Init();
        return SdxlPipeline.Load(BenchModels.PathOf(model), new PipelineOptions { Threads = BenchModels.Threads, Precision = precision });
    }
}
