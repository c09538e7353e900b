using LcmLora.IO;
using LcmLora.Runtime;
using TorchSharp;

namespace LcmLora.Models;

/// <summary>
/// A tiny SDXL with the real architecture (the configs of the test fixtures: two UNet levels, 32/64 channels, CLIP
/// widths 32 and 40) and seeded random weights. It runs in a second on any CPU, so the CLI and samples work on a
/// fresh machine with no download; its images are noise-like patterns, not pictures.
/// </summary>
public static class BuiltInModels
{
    private static readonly string[] Components = ["unet", "text_encoder", "text_encoder_2", "vae"];

    /// <summary>The tiny model's configs.</summary>
    internal static SdxlConfigs TinyConfigs()
    {
        var root = ConfigFolder();
        return SdxlConfigs.FromFolder(Path.Combine(root, "unet"), Path.Combine(root, "text_encoder"), Path.Combine(root, "text_encoder_2"), Path.Combine(root, "vae"));
    }

    /// <summary>
    /// A diffusers pipeline folder holding the tiny model with random weights (seed 1234), written to the cache once.
    /// </summary>
    public static string TinyRandomFolder() => ResourceCache.Folder("tiny-sdxl-random", Entries(), staging =>
    {
        var configs = SdxlConfigs.FromFolder(Path.Combine(staging, "unet"), Path.Combine(staging, "text_encoder"),
            Path.Combine(staging, "text_encoder_2"), Path.Combine(staging, "vae"));
        torch.random.manual_seed(1234);
        foreach (var c in Components)
        {
            using var module = Checkpoints.SdxlCheckpoint.Build(c, configs);
            ResetNorms(module);
            var file = c.StartsWith("text_encoder", StringComparison.Ordinal) ? "model.safetensors" : "diffusion_pytorch_model.safetensors";
            SafeTensorsWriter.Save(Path.Combine(staging, c, file), module.state_dict(),
                new Dictionary<string, string> { ["format"] = "pt", ["lcmlora"] = "built-in tiny SDXL, random weights (seed 1234)" });
        }
    });

    /// <summary>
    /// Sets every GroupNorm and LayerNorm to the identity affine (weight 1, bias 0). TorchSharp 0.107's GroupNorm leaves
    /// its affine parameters uninitialized (measured: NaN and huge values), which makes a randomly initialized model
    /// produce NaN; loaded models are unaffected because every weight comes from the checkpoint.
    /// </summary>
    private static void ResetNorms(torch.nn.Module module)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, m) in module.named_modules())
        {
            if (m is not (TorchSharp.Modules.GroupNorm or TorchSharp.Modules.LayerNorm)) continue;
            foreach (var (name, p) in m.named_parameters(recurse: false))
                if (name == "weight") p.fill_(1); else p.zero_();
        }
    }

    private static string ConfigFolder() => ResourceCache.Folder("tiny-sdxl-configs", Entries());

    private static IEnumerable<ResourceCache.Entry> Entries() =>
        Components.Select(c => new ResourceCache.Entry($"LcmLora.Models.Presets.tiny.{c}.config.json", Path.Combine(c, "config.json")))
            .Append(new ResourceCache.Entry("LcmLora.Models.Presets.tiny.scheduler.scheduler_config.json", Path.Combine("scheduler", "scheduler_config.json")))
            .Append(new ResourceCache.Entry("LcmLora.Models.Presets.tiny.model_index.json", "model_index.json"));
}
