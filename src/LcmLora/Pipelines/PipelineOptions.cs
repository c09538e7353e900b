using LcmLora.Models;
using LcmLora.Runtime;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>How <see cref="SdxlPipeline.Load"/> loads a model.</summary>
public sealed record PipelineOptions
{
    /// <summary>Where the modules run: CPU (default) or <c>torch.CUDA</c> (needs a TorchSharp CUDA backend package).</summary>
    public torch.Device? Device { get; init; }

    /// <summary>
    /// Compute precision of the models (weights are held in it too). Default <see cref="ComputePrecision.Auto"/>: bf16 on
    /// CPUs with AVX512_BF16 or AMX-BF16 and on CUDA devices that support it, fp16 on other CUDA devices, fp32 otherwise
    /// (<see cref="ComputePrecisions.Choose(ComputePrecision, torch.Device?)"/>). The scheduler and the initial noise
    /// stay float32 at every precision, so a seed gives the same start. With fp16 the VAE stays float32 when its config
    /// sets force_upcast; bf16 has fp32's range and needs no upcast.
    /// </summary>
    public ComputePrecision Precision { get; init; } = ComputePrecision.Auto;

    /// <summary>The diffusers tokenizer folder for text encoder 1; default: the model folder's <c>tokenizer/</c> or the built-in one.</summary>
    public string? TokenizerDir { get; init; }

    /// <summary>The diffusers tokenizer folder for text encoder 2; default: the model folder's <c>tokenizer_2/</c> or the built-in one.</summary>
    public string? Tokenizer2Dir { get; init; }

    /// <summary>The complete architecture, used as given (skips reading it from a single file's shapes).</summary>
    internal SdxlConfigs? Configs { get; init; }

    /// <summary>
    /// Configs for the fields a single file's shapes leave open (a non-standard file): a diffusers pipeline folder, a
    /// component folder or a config.json (CLI: <c>--config</c>). Fields the shapes determine are checked against it.
    /// </summary>
    public string? ConfigDir { get; init; }

    /// <summary>A UNet that replaces the model's own (CLI: <c>--unet</c>): a diffusers <c>unet/</c> folder or a single file with
    /// <c>model.diffusion_model.*</c> keys, such as a full LCM UNet (latent-consistency/lcm-sdxl).</summary>
    public string? UNetPath { get; init; }

    /// <summary>Configs for <see cref="UNetPath"/> when its own do not determine everything (default: its config.json, or its shapes).</summary>
    public string? UNetConfigDir { get; init; }

    /// <summary>For diffusers folders: prefer weight files of this variant (e.g. "fp16").</summary>
    public string? Variant { get; init; }

    /// <summary>CPU threads for libtorch (process-wide); null: one per physical core.</summary>
    public int? Threads { get; init; }

    /// <summary>Receives the name of each component as it loads.</summary>
    public IProgress<string>? Progress { get; init; }

    /// <summary>
    /// Load the VAE encoder (0.14 GB in fp32) with everything else. Default false: it is loaded from the still-mapped
    /// checkpoint on the first image-to-image request, so text-to-image never holds it.
    /// </summary>
    public bool PreloadVaeEncoder { get; init; }

    /// <summary>
    /// After loading, run a blocking, compacting full garbage collection and return the native allocator's free pages
    /// to the system. Default true: a load leaves ~180 MB of short-lived managed objects and its staging memory behind
    /// (measured at full size: 145 MiB less resident afterwards). An app that manages collections itself, or loads
    /// while latency-sensitive work runs on other threads, can turn it off.
    /// </summary>
    public bool ReleaseMemoryAfterLoad { get; init; } = true;
}
