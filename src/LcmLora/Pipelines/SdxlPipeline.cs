using System.Diagnostics;
using System.Security.Cryptography;
using LcmLora.Checkpoints;
using LcmLora.Lora;
using LcmLora.Models;
using LcmLora.Pipelines.Decoding;
using LcmLora.Runtime;
using LcmLora.Schedulers;
using LcmLora.Text;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// Stable Diffusion XL text-to-image and image-to-image, following diffusers' <c>StableDiffusionXLPipeline</c> step for
/// step: prompt encoding, micro-conditioning, seeded initial latents, the scheduler loop (LCM by default), VAE decode.
/// </summary>
/// <remarks>
/// One generation runs at a time: concurrent calls from several threads are serialized (each waits for the previous
/// one). A cancelled generation throws <see cref="OperationCanceledException"/>, frees everything it allocated and
/// leaves the pipeline ready for the next call.
/// </remarks>
public sealed class SdxlPipeline : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SdxlPromptEncoder _promptEncoder;
    private readonly Dictionary<string, (WeightMap Map, Dictionary<string, torch.Tensor> Live)> _reloadMaps = [];
    private ILatentDecoder _decoder;
    private SdxlCheckpoint? _checkpoint;
    private LoraAdapterSet? _loras;
    private readonly IO.StagingBuffer _reloadStaging = new();

    /// <summary>Assembles a pipeline from loaded parts.</summary>
    /// <param name="models">The four modules.</param>
    /// <param name="tokenizer">Tokenizer of text encoder 1 (pads with &lt;|endoftext|&gt;).</param>
    /// <param name="tokenizer2">Tokenizer of text encoder 2 (pads with '!').</param>
    /// <param name="scheduler">The default scheduler; null: LCM with SDXL's noise schedule.</param>
    public SdxlPipeline(SdxlModels models, ClipTokenizer tokenizer, ClipTokenizer tokenizer2, IScheduler? scheduler = null)
    {
        Models = models;
        Tokenizer = tokenizer;
        Tokenizer2 = tokenizer2;
        Scheduler = scheduler ?? new LcmScheduler();
        _promptEncoder = new SdxlPromptEncoder(tokenizer, models.TextEncoder, tokenizer2, models.TextEncoder2);
        _decoder = new VaeLatentDecoder(models.Vae);
        Precision = new PrecisionChoice(models.DType, "given models");
    }

    /// <summary>
    /// Loads an SDXL checkpoint (a single <c>.safetensors</c> file in the original layout, or a diffusers folder) and
    /// its tokenizers (the folder's, or the built-in SDXL ones). The scheduler is LCM, configured from the folder's
    /// <c>scheduler/scheduler_config.json</c> when there is one.
    /// </summary>
    public static SdxlPipeline Load(string modelPath, PipelineOptions? options = null)
    {
        NativeRuntime.EnsureInitialized();
        options ??= new PipelineOptions();
        ComputeThreads.Apply(options.Threads);
        var checkpoint = SdxlCheckpoint.Open(modelPath, options.Configs, options.Variant);
        try
        {
            var folder = checkpoint.Layout == CheckpointLayout.Diffusers ? checkpoint.Path : null;
            var (t1, t2) = SdxlTokenizers.ForModel(folder, options.TokenizerDir, options.Tokenizer2Dir);
            var schedulerConfig = folder is not null && File.Exists(Path.Combine(folder, "scheduler", "scheduler_config.json"))
                ? SchedulerConfig.FromJson(Path.Combine(folder, "scheduler", "scheduler_config.json"))
                : null;
            var precision = ComputePrecisions.Choose(options.Precision, options.Device);
            var models = checkpoint.Load(options.Device, precision.DType, options.Progress, vaeEncoder: options.PreloadVaeEncoder);
            // The checkpoint stays mapped (no memory cost until read): unfusing LoRAs re-reads originals from it, and
            // the VAE encoder is read from it on first use.
            var pipeline = new SdxlPipeline(models, t1, t2, new LcmScheduler(schedulerConfig)) { _checkpoint = checkpoint, Precision = precision };
            pipeline._decoder = new VaeLatentDecoder(models.Vae, checkpoint.LoadVaeEncoder);
            return pipeline;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>
    /// LoRA adapters fused into the UNet and text encoders, each with its own weight (e.g. LCM-LoRA 1.0 + a style 0.8):
    /// <c>Loras.Add("lcm", path)</c>, <c>Loras.Add("style", path, 0.8)</c>, <c>Loras.Fuse()</c>; <c>Unfuse()</c> restores the
    /// original weights bit for bit. For a pipeline made by <see cref="Load"/>, originals are re-read from the mapped
    /// checkpoint (no copies in memory); otherwise touched weights are copied before fusing.
    /// </summary>
    public LoraAdapterSet Loras => _loras ??= LoraAdapterSet.FromModules(
        Models.Components.Where(kv => kv.Key != "vae").ToDictionary(kv => kv.Key, kv => kv.Value),
        keepOriginals: _checkpoint is null,
        reloadOriginal: _checkpoint is null ? null : ReloadOriginal);

    private torch.Tensor ReloadOriginal(string component, string parameter)
    {
        var checkpoint = _checkpoint!;
        if (!_reloadMaps.TryGetValue(component, out var entry))
        {
            var state = Models.Components[component].state_dict();
            _reloadMaps[component] = entry = (checkpoint.MapFor(component, state.Keys), state);
        }
        var live = entry.Live[parameter];
        // On-disk values in a reused buffer: the caller's copy_ into the live weight converts them, so unfusing
        // allocates no fp32 copy per weight.
        var staged = checkpoint.SourceFor(component).ReadStaged(entry.Map.Entries[parameter], _reloadStaging);
        if (live.device_type == DeviceType.CPU) return staged;
        using (staged) return staged.to(live.device);
    }

    /// <summary>The modules.</summary>
    public SdxlModels Models { get; }

    /// <summary>The compute dtype of the models, why it was chosen, and a warning when it will be slow here.</summary>
    public PrecisionChoice Precision { get; private init; }

    /// <summary>Tokenizer of text encoder 1.</summary>
    public ClipTokenizer Tokenizer { get; }

    /// <summary>Tokenizer of text encoder 2.</summary>
    public ClipTokenizer Tokenizer2 { get; }

    /// <summary>The scheduler used when a request names none.</summary>
    public IScheduler Scheduler { get; set; }

    /// <summary>Decodes the final latents: the checkpoint's VAE by default; set another VAE or TAESD-XL.</summary>
    public ILatentDecoder Decoder
    {
        get => _decoder;
        set => _decoder = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>When set, every progress report carries a preview of the current denoised estimate decoded with it (use TAESD-XL).</summary>
    public ILatentDecoder? PreviewDecoder { get; set; }

    /// <summary>SDXL's <c>force_zeros_for_empty_prompt</c>: with guidance and no negative prompt, the negative conditioning is zeros.</summary>
    public bool ForceZerosForEmptyPrompt { get; set; } = true;

    /// <summary>Width and height must be multiples of this (the decoder's factor times the UNet's downsampling).</summary>
    public int SizeMultiple => Decoder.ScaleFactor * (1 << (Models.Configs.Unet.Levels - 1));

    /// <summary>The size used when a request gives none (the UNet's sample size in pixels; SDXL: 1024).</summary>
    public int NativeSize => Models.Configs.Unet.SampleSize * Decoder.ScaleFactor;

    /// <summary>Generates images. See <see cref="GenerationRequest"/> for the inputs and their defaults.</summary>
    /// <exception cref="LcmLoraInputException">An invalid request (size, steps, strength, latents shape...).</exception>
    /// <exception cref="NonFiniteOutputException">The result holds NaN or infinite values.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the pipeline stays usable.</exception>
    public GenerationResult Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        NativeRuntime.EnsureInitialized();
        _gate.Wait(cancellationToken);
        try
        {
            using var inference = torch.inference_mode();
            using var scope = torch.NewDisposeScope();
            return new GenerationRun(this, request, progress, cancellationToken).Execute();
        }
        finally
        {
            _gate.Release();
        }
    }

    internal SdxlPromptEncoder PromptEncoder => _promptEncoder;

    /// <summary>A random seed, for requests that give neither seed nor generator.</summary>
    internal static ulong RandomSeed() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) >> 11;

    /// <summary>Frees the modules.</summary>
    public void Dispose()
    {
        _loras?.Dispose();
        Models.Dispose();
        _checkpoint?.Dispose();
        _reloadStaging.Dispose();
        _gate.Dispose();
    }

    /// <summary>Measures wall time of one generation.</summary>
    internal static Stopwatch StartClock() => Stopwatch.StartNew();
}
