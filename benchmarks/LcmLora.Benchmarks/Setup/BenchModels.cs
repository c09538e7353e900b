using LcmLora.Benchmarks.Weights;
using LcmLora.Checkpoints;
using LcmLora.Models;
using LcmLora.Runtime;
using TorchSharp;

namespace LcmLora.Benchmarks.Setup;

/// <summary>The models the benchmarks run and how they are loaded.</summary>
public static class BenchModels
{
    /// <summary>The built-in tiny SDXL (random weights, diffusers folder in the cache).</summary>
    public const string Tiny = "tiny";

    /// <summary>Full-size SDXL base with random weights (fp16 single file in the benchmark cache, loaded as fp32).</summary>
    public const string Full = "sdxl-base";

    /// <summary>
    /// The models parameterized benchmarks run: LCMLORA_BENCH_MODELS ("tiny", "sdxl-base" or "tiny,sdxl-base"), else both.
    /// </summary>
    public static IEnumerable<string> Selected() =>
        Environment.GetEnvironmentVariable("LCMLORA_BENCH_MODELS") is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : [Tiny, Full];

    /// <summary>Intra-op threads: LCMLORA_BENCH_THREADS, else 2 (the physical cores of the reference machine).</summary>
    public static int Threads =>
        int.TryParse(Environment.GetEnvironmentVariable("LCMLORA_BENCH_THREADS"), out var n) && n > 0 ? n : 2;

    /// <summary>Loads TorchSharp and sets the thread count; call first in every global setup.</summary>
    public static void Init()
    {
        NativeRuntime.EnsureInitialized();
        torch.set_num_threads(Threads);
        // libtorch is loaded now: apply what the pipeline applies (NNPACK off), also for modules built without a pipeline.
        NativeRuntime.ConfigureLoadedTorch();
    }

    /// <summary>Path of a model's checkpoint (written on first use).</summary>
    public static string PathOf(string model) => model switch
    {
        Tiny => BuiltInCheckpoints.TinyRandomFolder(),
        Full => RandomSdxlCheckpoint.EnsureSingleFile(),
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, $"expected {Tiny} or {Full}"),
    };

    /// <summary>Opens a model's checkpoint.</summary>
    public static SdxlCheckpoint Open(string model) => SdxlCheckpoint.Open(PathOf(model));

    /// <summary>
    /// Loads one component (fp32 unless told) on the CPU (built on the meta device, then materialized from the file), in eval
    /// mode: benchmarks of one component need neither the memory nor the load time of the other three.
    /// </summary>
    public static T LoadComponent<T>(SdxlCheckpoint checkpoint, ModelComponent component, torch.ScalarType dtype = torch.ScalarType.Float32) where T : torch.nn.Module =>
        (T)checkpoint.LoadComponent(component, dtype, torch.CPU);
}

/// <summary>The image size every model benchmark uses.</summary>
public static class BenchSizes
{
    /// <summary>Image side in pixels.</summary>
    public const int Image = 512;

    /// <summary>Latent side (image / 8).</summary>
    public const int Latent = Image / 8;
}

/// <summary>Fixes the model of a benchmark class that has no Model parameter.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class BenchModelAttribute(string model) : Attribute
{
    /// <summary>"tiny" or "sdxl-base".</summary>
    public string Model { get; } = model;

    /// <summary>
    /// The model of a benchmark type: its attribute or its nearest base type's (BenchmarkDotNet runs a generated
    /// subclass of the benchmark class), else full size.
    /// </summary>
    public static string Of(Type type) =>
        ((BenchModelAttribute?)GetCustomAttribute(type, typeof(BenchModelAttribute), inherit: true))?.Model ?? BenchModels.Full;
}
