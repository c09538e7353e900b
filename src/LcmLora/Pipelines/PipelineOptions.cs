using LcmLora.Models;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>How <see cref="SdxlPipeline.Load"/> loads a model.</summary>
public sealed record PipelineOptions
{
    /// <summary>Where the modules run: CPU (default) or <c>torch.CUDA</c> (needs a TorchSharp CUDA backend package).</summary>
    public torch.Device? Device { get; init; }

    /// <summary>Compute dtype of the UNet and text encoders. Default float32 (on CPUs without bf16 matrix units
    /// half precision is far slower); use Float16 or BFloat16 on CUDA. The VAE stays float32 when its config sets force_upcast.</summary>
    public torch.ScalarType? DType { get; init; }

    /// <summary>The diffusers tokenizer folder for text encoder 1; default: the model folder's <c>tokenizer/</c> or the built-in one.</summary>
    public string? TokenizerDir { get; init; }

    /// <summary>The diffusers tokenizer folder for text encoder 2; default: the model folder's <c>tokenizer_2/</c> or the built-in one.</summary>
    public string? Tokenizer2Dir { get; init; }

    /// <summary>The architecture, for single files whose shapes match no built-in one.</summary>
    public SdxlConfigs? Configs { get; init; }

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
}
