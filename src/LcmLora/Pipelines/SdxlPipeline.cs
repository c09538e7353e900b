using System.Security.Cryptography;
using LcmLora.Checkpoints;
using LcmLora.Lora;
using LcmLora.Models;
using LcmLora.Models.Unet;
using LcmLora.Pipelines.Decoding;
using LcmLora.Runtime;
using LcmLora.Schedulers;
using LcmLora.Text;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// Stable Diffusion text-to-image and image-to-image, following diffusers' <c>StableDiffusionXLPipeline</c> (SDXL family)
/// or <c>StableDiffusionPipeline</c> / <c>LatentConsistencyModelPipeline</c> (SD 1.x) step for step: prompt encoding
/// with the family's recipe, micro-conditioning, seeded initial latents, the scheduler loop (LCM by default), VAE decode.
/// Full LCM UNets (<c>time_cond_proj_dim</c>) get the guidance scale as an embedding and never double the batch. The
/// name stays from the SDXL-only days; <see cref="Family"/> says what is loaded.
/// </summary>
/// <remarks>
/// One generation runs at a time: concurrent calls from several threads are serialized (each waits for the previous
/// one). A cancelled generation throws <see cref="OperationCanceledException"/>, frees everything it allocated and
/// leaves the pipeline ready for the next call.
/// </remarks>
public sealed class SdxlPipeline : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly IPromptEncoder? _promptEncoder;
    private ILatentDecoder _decoder;
    private SdxlCheckpoint? _checkpoint;
    private SdxlCheckpoint? _unetCheckpoint;
    private LoraAdapterSet? _loras;
    private OriginalWeights? _originals;

    /// <summary>Assembles a pipeline from loaded parts.</summary>
    /// <param name="models">The four modules.</param>
    /// <param name="tokenizer">Tokenizer of text encoder 1 (pads with &lt;|endoftext|&gt;).</param>
    /// <param name="tokenizer2">Tokenizer of text encoder 2 (pads with '!'); unused by SD 1.x.</param>
    /// <param name="scheduler">The default scheduler; null: LCM with SDXL's noise schedule.</param>
    internal SdxlPipeline(SdxlModels models, ClipTokenizer tokenizer, ClipTokenizer tokenizer2, IScheduler? scheduler = null)
    {
        NativeRuntime.ConfigureLoadedTorch();
        Models = models;
        Tokenizer = tokenizer;
        Tokenizer2 = tokenizer2;
        Scheduler = scheduler ?? new LcmScheduler();
        _promptEncoder = models.Configs.Family.Conditioning switch
        {
            TextConditioning.SdxlDualEncoder when models.TextEncoder is { } te && models.TextEncoder2 is { } te2 => new SdxlPromptEncoder(tokenizer, te, tokenizer2, te2),
            TextConditioning.ClipLastHiddenState when models.TextEncoder is { } te => new ClipPromptEncoder(tokenizer, te),
            _ => null, // the refiner: loads and inspects; its image-to-image refinement is not implemented yet
        };
        _decoder = new VaeLatentDecoder(models.Vae);
        Precision = new PrecisionChoice(models.DType, "given models");
    }

    /// <summary>The model family (SDXL, SDXL refiner, SD 1.x).</summary>
    public ModelFamily Family => Models.Configs.Family;

    /// <summary>
    /// Loads a checkpoint (a single <c>.safetensors</c> file in the original layout, or a diffusers folder; SDXL family
    /// or SD 1.x, recognized from its keys) and its tokenizers (the folder's, or the built-in CLIP ones). The scheduler
    /// is LCM, configured from the folder's <c>scheduler/scheduler_config.json</c> when there is one.
    /// <see cref="PipelineOptions.UNetPath"/> replaces the UNet (a full LCM UNet, say).
    /// </summary>
    /// <param name="modelPath">The single file, diffusers folder or cached Hugging Face repo id.</param>
    /// <param name="options">Device, dtype, tokenizers, progress.</param>
    /// <param name="cancellationToken">Checked between tensor reads; a cancelled load frees what it loaded.</param>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static SdxlPipeline Load(string modelPath, PipelineOptions? options = null, CancellationToken cancellationToken = default)
    {
        NativeRuntime.EnsureInitialized();
        options ??= new PipelineOptions();
        ComputeThreads.Apply(options.Threads);
        var checkpoint = SdxlCheckpoint.Open(modelPath, options.Configs, options.Variant, options.ConfigDir);
        SdxlCheckpoint? unetCheckpoint = null;
        try
        {
            var folder = checkpoint.Layout == CheckpointLayout.Diffusers ? checkpoint.Path : null;
            var (t1, t2) = SdxlTokenizers.ForModel(folder, options.TokenizerDir, options.Tokenizer2Dir);
            var schedulerConfig = folder is not null ? SchedulerConfig.ForModel(folder) : null;
            var precision = ComputePrecisions.Choose(options.Precision, options.Device);
            var models = checkpoint.Load(options.Device, precision.DType, options.Progress, vaeEncoder: options.PreloadVaeEncoder, cancellationToken,
                releaseMemory: options.ReleaseMemoryAfterLoad);
            if (options.UNetPath is { } unetPath)
            {
                unetCheckpoint = SdxlCheckpoint.OpenUNet(unetPath, options.UNetConfigDir, options.Variant);
                models = ReplaceUNet(models, unetCheckpoint, unetPath);
            }
            // The checkpoint stays mapped (no memory cost until read): unfusing LoRAs re-reads originals from it, and
            // the VAE encoder is read from it on first use.
            var pipeline = new SdxlPipeline(models, t1, t2, new LcmScheduler(schedulerConfig)) { _checkpoint = checkpoint, _unetCheckpoint = unetCheckpoint, Precision = precision };
            pipeline._decoder = new VaeLatentDecoder(models.Vae, checkpoint.LoadVaeEncoder);
            return pipeline;
        }
        catch
        {
            unetCheckpoint?.Dispose();
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Swaps in a UNet from another file or folder; it must take the same conditioning as the one it replaces.</summary>
    private static SdxlModels ReplaceUNet(SdxlModels models, SdxlCheckpoint unetCheckpoint, string path)
    {
        SdxlUNet unet;
        try { unet = unetCheckpoint.LoadUNet(models.Device, models.DType); }
        catch
        {
            models.Dispose();
            throw;
        }
        var (old, replacement) = (models.Configs.Unet, unet.Config);
        string? problem = replacement.CrossAttentionDim[^1] != old.CrossAttentionDim[^1]
            ? $"its cross_attention_dim is {replacement.CrossAttentionDim[^1]}, the text encoders give {old.CrossAttentionDim[^1]}"
            : replacement.ProjectionClassEmbeddingsInputDim != old.ProjectionClassEmbeddingsInputDim
                ? $"its projection_class_embeddings_input_dim is {replacement.ProjectionClassEmbeddingsInputDim?.ToString() ?? "null"}, the model's {old.ProjectionClassEmbeddingsInputDim?.ToString() ?? "null"}"
                : replacement.OutChannels != models.Configs.Vae.LatentChannels
                    ? $"it predicts {replacement.OutChannels} channels, the VAE has {models.Configs.Vae.LatentChannels} latent channels"
                    : null;
        if (problem is not null)
        {
            unet.Dispose();
            models.Dispose();
            throw new LcmLoraInputException($"{path}: this UNet does not fit the model: {problem}.");
        }
        models.Unet.Dispose();
        return new SdxlModels(models.Configs with { Unet = replacement }, unet, models.TextEncoder, models.TextEncoder2, models.Vae, models.Device, models.DType);
    }

    /// <summary>
    /// LoRA adapters fused into the UNet and text encoders, each with its own weight (e.g. LCM-LoRA 1.0 + a style 0.8):
    /// <c>Loras.Add("lcm", path)</c>, <c>Loras.Add("style", path, 0.8)</c>, <c>Loras.Fuse()</c>; <c>Unfuse()</c> restores the
    /// original weights bit for bit. For a pipeline made by <see cref="Load"/>, originals are re-read from the mapped
    /// checkpoint (no copies in memory); otherwise touched weights are copied before fusing.
    /// </summary>
    public LoraAdapterSet Loras => _loras ??= LoraAdapterSet.FromModules(
        Models.Components.Where(kv => kv.Key != ModelComponent.Vae.Name()).ToDictionary(kv => kv.Key, kv => kv.Value),
        keepOriginals: _checkpoint is null || _unetReplaced,
        reloadOriginal: _checkpoint is null || _unetReplaced ? null : ReloadOriginal);

    private bool _unetReplaced;

    /// <summary>
    /// Replaces the UNet with one loaded from a diffusers <c>unet/</c> folder (or a diffusers-layout file with its
    /// config.json beside it), on this pipeline's device and dtype: e.g. a 9-channel SDXL inpainting UNet on a base
    /// model. The old UNet is freed. Call before adding LoRAs.
    /// </summary>
    /// <exception cref="InvalidOperationException">LoRA adapters were already added.</exception>
    /// <exception cref="LcmLoraInputException">The UNet does not load, or its text conditioning does not fit this model's encoders.</exception>
    public void LoadUnet(string path)
    {
        if (_loras is { Adapters.Count: > 0 }) throw new InvalidOperationException("Replace the UNet before adding LoRA adapters.");
        var unet = ComponentCheckpoint.LoadUNet(path, Models.Device, Models.DType);
        var old = Models.Configs.Unet;
        if (unet.Config.CrossAttentionDim[^1] != old.CrossAttentionDim[^1] || unet.Config.ProjectionClassEmbeddingsInputDim != old.ProjectionClassEmbeddingsInputDim
            || unet.Config.OutChannels != old.OutChannels)
        {
            unet.Dispose();
            throw new LcmLoraInputException($"{path}: this UNet (cross_attention_dim {unet.Config.CrossAttentionDim[^1]}, projection_class_embeddings_input_dim " +
                $"{unet.Config.ProjectionClassEmbeddingsInputDim}, out_channels {unet.Config.OutChannels}) does not fit the model's text encoders and VAE " +
                $"({old.CrossAttentionDim[^1]}, {old.ProjectionClassEmbeddingsInputDim}, {old.OutChannels}).");
        }
        _loras?.Dispose();
        _loras = null;
        _originals?.Forget(ModelComponent.Unet);
        _unetReplaced = true;
        Models.ReplaceUnet(unet).Dispose();
    }

    private torch.Tensor ReloadOriginal(string component, string parameter) =>
        (_originals ??= new OriginalWeights(_checkpoint!, _unetCheckpoint, c => Models.Components[c.Name()])).Read(ModelComponents.Parse(component), parameter);

    /// <summary>The modules.</summary>
    internal SdxlModels Models { get; }

    /// <summary>The device the models run on (e.g. to load a ControlNet beside them with <see cref="ComponentCheckpoint.LoadControlNet(string, torch.Device?, torch.ScalarType?)"/>).</summary>
    public torch.Device Device => Models.Device;

    /// <summary>The compute dtype of the UNet and text encoders (<see cref="PrecisionChoice.DType"/> of <see cref="Precision"/>).</summary>
    public torch.ScalarType DType => Models.DType;

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

    /// <summary>SDXL's <c>force_zeros_for_empty_prompt</c>: with guidance and no negative prompt, the negative conditioning is
    /// zeros (SD 1.x always encodes "" instead).</summary>
    public bool ForceZerosForEmptyPrompt { get; set; } = true;

    /// <summary>Width and height must be multiples of this (the decoder's factor times the UNet's downsampling).</summary>
    public int SizeMultiple => Decoder.ScaleFactor * (1 << (Models.Configs.Unet.Levels - 1));

    /// <summary>The size used when a request gives none: the UNet's sample size in pixels (SDXL: 1024, SD 1.5: 512), or the
    /// family's default when the config has no sample size.</summary>
    public int NativeSize => Models.Configs.Unet.SampleSize > 0 ? Models.Configs.Unet.SampleSize * Decoder.ScaleFactor : Family.DefaultImageSize;

    /// <summary>Generates images. See <see cref="GenerationRequest"/> for the inputs and their defaults.</summary>
    /// <exception cref="LcmLoraInputException">An invalid request (size, steps, strength, latents shape...).</exception>
    /// <exception cref="NonFiniteOutputException">The result holds NaN or infinite values.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the pipeline stays usable.</exception>
    public GenerationResult Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
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

    internal IPromptEncoder PromptEncoder => _promptEncoder ??
        throw new LcmLoraInputException($"Generating with a {Family.Name} model is not supported yet (the refiner's image-to-image refinement is planned).");

    /// <summary>A random seed, for requests that give neither seed nor generator.</summary>
    internal static ulong RandomSeed() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) >> 11;

    /// <summary>Frees the modules.</summary>
    public void Dispose()
    {
        _loras?.Dispose();
        Models.Dispose();
        _checkpoint?.Dispose();
        _unetCheckpoint?.Dispose();
        _originals?.Dispose();
        _gate.Dispose();
    }
}
