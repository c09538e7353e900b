using LcmLora.Checkpoints;
using LcmLora.Models;
using TorchSharp;

namespace LcmLora.Lora;

/// <summary>What a LoRA file holds, read from its header alone.</summary>
/// <param name="Path">The file.</param>
/// <param name="Format">The detected format (key style, UNet naming, algorithms, components addressed).</param>
/// <param name="ModuleCount">Adapted modules in the file.</param>
/// <param name="Ranks">Per rank, how many modules have it (ascending; malformed modules are left out).</param>
/// <param name="Alphas">The distinct alphas stored (ascending); empty when the file stores none (alpha = rank).</param>
public sealed record LoraSummary(string Path, LoraFormat Format, int ModuleCount, IReadOnlyDictionary<int, int> Ranks, IReadOnlyList<double> Alphas);

/// <summary>
/// Looks at LoRA files without loading any weights: what a file holds, and how it matches a checkpoint (which modules
/// of each component would be applied), from the safetensors headers and the checkpoint's configs alone. Seconds and
/// little memory even for a 7 GB checkpoint, so an app can check a user's LoRA before it loads a model.
/// </summary>
public static class LoraInspection
{
    /// <summary>Reads the header of the LoRA file at <paramref name="path"/>.</summary>
    /// <exception cref="LoraFormatException">The file holds no LoRA tensors (a checkpoint or another kind of file), or a module is stored twice.</exception>
    /// <exception cref="IO.SafeTensorsFormatException">The file is not a valid safetensors file.</exception>
    public static LoraSummary Describe(string path)
    {
        using var lora = LoraFile.Open(path);
        var ranks = lora.Modules.Where(m => m.Rank > 0).GroupBy(m => m.Rank).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
        var alphas = lora.Modules.Where(m => m.Alpha is not null).Select(m => m.Alpha!.Value).Distinct().Order().ToList();
        return new LoraSummary(lora.Source, lora.Format, lora.Modules.Count, ranks, alphas);
    }

    /// <summary>
    /// Matches the LoRA at <paramref name="loraPath"/> against the checkpoint at <paramref name="modelPath"/> from headers
    /// alone, exactly as <see cref="LoraAdapterSet.Add(string, string, double, LoraMatchMode)"/> with the default mode
    /// would on the loaded model (the UNet and text encoders the checkpoint holds; never the VAE).
    /// A partial or empty match is reported, not thrown: see <see cref="LoraMatchResult.IsComplete"/>,
    /// <see cref="LoraMatchResult.MatchedModules"/> and, per component, <see cref="LoraReport"/>.
    /// </summary>
    /// <param name="loraPath">The LoRA <c>.safetensors</c> file.</param>
    /// <param name="modelPath">An SDXL (or SD 1.x) single file or diffusers folder.</param>
    /// <param name="configDir">Configs for fields a single file's shapes leave open (see <see cref="SdxlCheckpoint.Open(string, string?, string?)"/>).</param>
    /// <exception cref="LoraFormatException">The LoRA file holds no LoRA tensors.</exception>
    /// <exception cref="LcmLoraInputException">The checkpoint is not a model, or its configs cannot be completed.</exception>
    public static LoraMatchResult Match(string loraPath, string modelPath, string? configDir = null)
    {
        using var lora = LoraFile.Open(loraPath);
        using var checkpoint = SdxlCheckpoint.Open(modelPath, configDir);
        var shapes = new Dictionary<string, IReadOnlyDictionary<string, long[]>>(StringComparer.Ordinal);
        foreach (var component in checkpoint.Components.Where(c => c != ModelComponent.Vae))
        {
            using var meta = checkpoint.Configs.Build(component, torch.device("meta"));
            shapes[component.Name()] = WeightMap.ShapesOf(meta);
        }
        try
        {
            return LoraMatcher.Match(lora, new LoraNameMap(shapes));
        }
        catch (LoraMismatchException e)
        {
            return e.Result;
        }
    }
}
