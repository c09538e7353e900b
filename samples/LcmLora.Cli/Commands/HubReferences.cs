using LcmLora.Checkpoints;
using LcmLora.Cli.Output;
using LcmLora.Hub;

namespace LcmLora.Cli.Commands;

/// <summary>
/// Turns a --model or --lora value into a local path: an existing file or folder as it is; a Hugging Face repo id
/// (<c>org/name</c>) or a file in one (<c>org/name/file.safetensors</c>) downloaded on first use into the cache
/// Python shares (HF_HUB_CACHE/HF_HOME, HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE apply; see docs/hub.md).
/// </summary>
internal static class HubReferences
{
    /// <summary>A model: a single file or a diffusers folder (for a repo, the snapshot of what the pipeline needs).</summary>
    public static string Model(string value, bool quiet, CancellationToken ct, string? variant = null)
    {
        if (!HubModels.IsRepoReference(value)) return HuggingFaceCache.Resolve(value);
        using var hub = new HubModels();
        return DownloadProgress.Run(quiet, progress => hub.ResolveModelAsync(value, variant, progress, ct));
    }

    /// <summary>A weights file such as a LoRA (for a repo, its one top-level .safetensors file).</summary>
    public static string WeightsFile(string value, bool quiet, CancellationToken ct)
    {
        if (!HubModels.IsRepoReference(value)) return HuggingFaceCache.ResolveFile(value);
        using var hub = new HubModels();
        return DownloadProgress.Run(quiet, progress => hub.ResolveWeightsFileAsync(value, progress, ct));
    }
}
