using LcmLora.Pipelines;

namespace LcmLora.Server.Generation;

/// <summary>What the job worker needs from the loaded model: its description and one generation at a time.</summary>
public interface IImageGenerator
{
    /// <summary>What is loaded.</summary>
    ModelInfo Model { get; }

    /// <summary>Generates one validated job (LoRA adapters it does not name keep their current weight).</summary>
    GenerationResult Generate(JobInput input, IProgress<GenerationProgress> progress, CancellationToken cancellationToken);
}

/// <summary>A validated request with every default resolved (the seed is drawn at submission, so it is known while queued).</summary>
public sealed record JobInput
{
    public required string Prompt { get; init; }
    public string? NegativePrompt { get; init; }
    public required int Steps { get; init; }
    public required double Guidance { get; init; }
    public required ulong Seed { get; init; }
    public required int Width { get; init; }
    public required int Height { get; init; }
    public required int Batch { get; init; }
    public required string Scheduler { get; init; }
    public double Strength { get; init; } = 0.8;
    public Imaging.RgbImage? InitImage { get; init; }
    public IReadOnlyDictionary<string, double> Loras { get; init; } = new Dictionary<string, double>();
}

/// <summary>The loaded model as <c>GET /v1/model</c> reports it.</summary>
/// <param name="Family">Model family ("sdxl").</param>
/// <param name="Source">The model path or repo id; "built-in tiny model" when none was given.</param>
/// <param name="DType">Compute dtype (fp32, fp16, bf16).</param>
/// <param name="Device">cpu or cuda.</param>
/// <param name="NativeSize">Default width and height in pixels.</param>
/// <param name="SizeMultiple">Width and height must be multiples of this.</param>
/// <param name="Decoder">The final decoder.</param>
/// <param name="Previews">Whether step events carry TAESD previews.</param>
/// <param name="Loras">The loaded adapters with their startup weights.</param>
/// <param name="Schedulers">Scheduler names a request may use.</param>
public sealed record ModelInfo(string Family, string Source, string DType, string Device, int NativeSize, int SizeMultiple,
    string Decoder, bool Previews, IReadOnlyList<LoraInfo> Loras, IReadOnlyList<string> Schedulers);

/// <summary>One loaded LoRA adapter.</summary>
/// <param name="Name">The name requests use in <c>loras</c> (the file name without extension).</param>
/// <param name="Path">The file.</param>
/// <param name="Weight">Its weight at startup.</param>
/// <param name="Modules">Modules it patches.</param>
public sealed record LoraInfo(string Name, string Path, double Weight, int Modules);
