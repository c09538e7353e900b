using LcmLora.Runtime;

namespace LcmLora.Models;

/// <summary>
/// A tiny SDXL with the real architecture (the configs of the test fixtures: two UNet levels, 32/64 channels, CLIP
/// widths 32 and 40). With seeded random weights (<c>LcmLora.Checkpoints.BuiltInCheckpoints.TinyRandomFolder</c>) it
/// runs in a second on any CPU, so the CLI and samples work on a fresh machine with no download; its images are
/// noise-like patterns, not pictures.
/// </summary>
internal static class BuiltInModels
{
    /// <summary>The tiny model's configs.</summary>
    internal static SdxlConfigs TinyConfigs() => SdxlConfigs.FromFolderComponents(ResourceCache.Folder("tiny-sdxl-configs", TinyConfigEntries()));

    /// <summary>The tiny model's config files (each component's config.json, the scheduler's and model_index.json) as cache entries.</summary>
    internal static IEnumerable<ResourceCache.Entry> TinyConfigEntries() =>
        ModelComponents.All.Select(c => new ResourceCache.Entry($"LcmLora.Models.Presets.tiny.{c.Name()}.config.json", Path.Combine(c.Name(), "config.json")))
            .Append(new ResourceCache.Entry("LcmLora.Models.Presets.tiny.scheduler.scheduler_config.json", Path.Combine("scheduler", "scheduler_config.json")))
            .Append(new ResourceCache.Entry("LcmLora.Models.Presets.tiny.model_index.json", "model_index.json"));
}
