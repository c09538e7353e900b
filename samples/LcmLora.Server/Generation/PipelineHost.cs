using LcmLora.Runtime;
using LcmLora.Checkpoints;
using LcmLora.Lora;
using LcmLora.Models;
using LcmLora.Pipelines;
using LcmLora.Pipelines.Decoding;
using LcmLora.Schedulers;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace LcmLora.Server.Generation;

/// <summary>
/// Owns the process's one pipeline: loads the model, fuses the LoRAs and sets the decoders at startup (as the CLI's
/// <c>generate</c> does), then runs one generation at a time for the job worker. A request's LoRA weights are applied
/// with <c>Loras.SetWeight</c> (an exact unfuse and refuse) only when they differ from the current ones.
/// </summary>
public sealed class PipelineHost : IImageGenerator, IDisposable
{
    private readonly SdxlPipeline _pipeline;
    private readonly ILogger<PipelineHost> _log;

    /// <summary>Loads everything named by the options.</summary>
    public PipelineHost(IOptions<ServerOptions> options, ILogger<PipelineHost> log)
    {
        _log = log;
        var o = options.Value;
        var device = ParseDevice(o.Device);
        var precision = ComputePrecisions.Parse(o.DType); // auto by default: bf16 where the CPU/GPU has it, else fp32
        var modelPath = o.Model is null ? BuiltInCheckpoints.TinyRandomFolder() : HuggingFaceCache.Resolve(o.Model);
        if (o.Model is null) log.LogWarning("No --model given: using the built-in tiny SDXL with random weights (it draws noise, not pictures).");
        _pipeline = SdxlPipeline.Load(modelPath, new PipelineOptions { Device = device, Precision = precision, Threads = o.Threads });
        try
        {
            var loras = AddLoras(o.Loras);
            if (o.Vae is not null) _pipeline.Decoder = LatentDecoders.Load(o.Vae, device);
            _pipeline.PreviewDecoder = PreviewDecoder(o, device);
            Model = new ModelInfo(_pipeline.Family.Name, o.Model ?? "built-in tiny model", _pipeline.Precision.Name, o.Device, _pipeline.NativeSize, _pipeline.SizeMultiple,
                _pipeline.Decoder.Name, _pipeline.PreviewDecoder is not null, loras, SchedulerFactory.Names);
        }
        catch
        {
            _pipeline.Dispose();
            throw;
        }
        log.LogInformation("Loaded {Source} ({DType}, {Device}); previews {Previews}; LoRAs: {Loras}", Model.Source, Model.DType, Model.Device,
            Model.Previews ? "on" : "off", string.Join(", ", Model.Loras.Select(l => $"{l.Name}:{l.Weight}")));
    }

    /// <inheritdoc />
    public ModelInfo Model { get; }

    /// <inheritdoc />
    public GenerationResult Generate(JobInput input, IProgress<GenerationProgress> progress, CancellationToken cancellationToken)
    {
        var request = new GenerationRequest
        {
            Prompt = input.Prompt,
            NegativePrompt = input.NegativePrompt,
            Steps = input.Steps,
            GuidanceScale = input.Guidance,
            Seed = input.Seed,
            Width = input.Width,
            Height = input.Height,
            BatchSize = input.Batch,
            Scheduler = SchedulerFactory.Create(input.Scheduler, _pipeline.Scheduler.Config),
            InitImage = input.InitImage,
            Strength = input.Strength,
        };
        foreach (var (name, weight) in input.Loras)
        {
            if (_pipeline.Loras[name].Weight == weight) continue;
            _log.LogInformation("LoRA {Name}: weight {Weight} (refusing)", name, weight);
            _pipeline.Loras.SetWeight(name, weight);
        }
        return _pipeline.Generate(request, progress, cancellationToken);
    }

    /// <summary>Frees the pipeline.</summary>
    public void Dispose() => _pipeline.Dispose();

    private List<LoraInfo> AddLoras(IReadOnlyList<string> values)
    {
        var infos = new List<LoraInfo>();
        foreach (var value in values)
        {
            // FILE[:WEIGHT], parsed as the CLI does (a weight that is not a number is an error, not part of the path).
            var spec = LoraSpec.Parse(value);
            var (path, weight) = (HuggingFaceCache.ResolveFile(spec.Path), spec.Weight);
            var stem = Path.GetFileNameWithoutExtension(path);
            var name = stem;
            for (var i = 2; infos.Any(l => l.Name == name); i++) name = $"{stem}#{i}";
            var adapter = _pipeline.Loras.Add(name, path, weight);
            foreach (var report in adapter.Reports.Where(r => !r.IsComplete)) _log.LogWarning("LoRA {Path}: {Report}", path, report);
            infos.Add(new LoraInfo(name, path, weight, adapter.ModuleCount));
        }
        if (infos.Count > 0) _pipeline.Loras.Fuse();
        return infos;
    }

    private ILatentDecoder? PreviewDecoder(ServerOptions o, torch.Device device)
    {
        if (o.PreviewTaesd is null) return o.Vae is not null && LatentDecoders.Detect(o.Vae) == LatentDecoderKind.Taesd ? _pipeline.Decoder : null;
        if (LatentDecoders.Detect(o.PreviewTaesd) != LatentDecoderKind.Taesd)
            throw new LcmLoraInputException($"--preview-taesd {o.PreviewTaesd}: previews need TAESD-XL, but this is a full VAE.");
        return LatentDecoders.Load(o.PreviewTaesd, device);
    }

    private static torch.Device ParseDevice(string name) => name switch
    {
        "cpu" => torch.CPU,
        "cuda" when torch.cuda.is_available() => torch.CUDA,
        "cuda" => throw new LcmLoraInputException("--device cuda: CUDA is not available (reference a TorchSharp CUDA backend package; see docs/cuda.md)."),
        _ => throw new LcmLoraInputException($"Server:Device '{name}': expected cpu or cuda."),
    };
}
