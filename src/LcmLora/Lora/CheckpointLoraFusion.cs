using LcmLora.Checkpoints;
using LcmLora.IO;
using TorchSharp;

namespace LcmLora.Lora;

/// <summary>One LoRA to bake into a checkpoint.</summary>
/// <param name="Path">The LoRA file.</param>
/// <param name="Weight">Its adapter weight (1.0 for LCM-LoRA, e.g. 0.8 for a style).</param>
public sealed record LoraSpec(string Path, double Weight = 1.0);

/// <summary>What <see cref="CheckpointLoraFusion.Fuse"/> wrote.</summary>
/// <param name="Output">The file or folder written.</param>
/// <param name="ChangedTensors">Checkpoint keys whose values changed.</param>
/// <param name="Reports">Per adapter and component, how the LoRA matched.</param>
public sealed record CheckpointFusionResult(string Output, IReadOnlyList<string> ChangedTensors, IReadOnlyList<(string Adapter, LoraReport Report)> Reports);

/// <summary>
/// Bakes LoRAs into a checkpoint once (e.g. LCM-LoRA into your own SDXL fine-tune), writing the result in the input's
/// layout: a single file in, a single file out with the same keys, order and metadata; a diffusers folder in, a folder
/// out. Only fused tensors change; every other tensor is copied byte for byte. The UNet and text encoders are loaded in
/// the checkpoint's own dtype (the VAE is never loaded), deltas are computed in float32 and added once.
/// </summary>
public static class CheckpointLoraFusion
{

    /// <summary>Fuses <paramref name="loras"/> into the checkpoint at <paramref name="modelPath"/> and writes <paramref name="outputPath"/>.</summary>
    /// <param name="modelPath">An SDXL single file or diffusers folder.</param>
    /// <param name="loras">The LoRAs and their weights.</param>
    /// <param name="outputPath">The file (single-file input) or folder (diffusers input) to write.</param>
    /// <param name="floatDType">Write every float tensor in this dtype; default: as stored.</param>
    /// <param name="progress">Receives a short description of each stage.</param>
    /// <param name="configDir">Configs for fields a single file's shapes leave open (see <see cref="SdxlCheckpoint.Open"/>).</param>
    public static CheckpointFusionResult Fuse(string modelPath, IReadOnlyList<LoraSpec> loras, string outputPath, SafeTensorDType? floatDType = null,
        IProgress<string>? progress = null, string? configDir = null)
    {
        if (loras.Count == 0) throw new LcmLoraInputException("Give at least one LoRA to fuse.");
        using var checkpoint = SdxlCheckpoint.Open(modelPath, configDir: configDir);
        var components = Adaptable(checkpoint);
        var modules = new Dictionary<string, torch.nn.Module>();
        try
        {
            foreach (var c in components)
            {
                progress?.Report($"load {c}");
                var source = checkpoint.SourceFor(c);
                var module = SdxlCheckpoint.Build(c, checkpoint.Configs, torch.device("meta"));
                modules[c] = module;
                var names = WeightMap.ShapesOf(module).Keys.ToList();
                var map = checkpoint.MapFor(c, names);
                var stored = source.Info(map.Entries[names.First(n => n.EndsWith(".weight", StringComparison.Ordinal))].Key).DType.ToScalarType();
                WeightLoader.Load(c, module, map, source, stored is torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Float64 ? stored : torch.ScalarType.Float32);
            }
            using var set = LoraAdapterSet.FromModules(modules, keepOriginals: false);
            for (var i = 0; i < loras.Count; i++)
            {
                progress?.Report($"match {Path.GetFileName(loras[i].Path)}");
                set.Add($"{i}:{Path.GetFileNameWithoutExtension(loras[i].Path)}", loras[i].Path, loras[i].Weight);
            }
            progress?.Report("fuse");
            set.Fuse();
            progress?.Report("write");
            var changed = checkpoint.Layout == CheckpointLayout.SgmSingleFile
                ? WriteSingleFile(checkpoint, components, modules, set, outputPath, floatDType)
                : WriteFolder(checkpoint, components, modules, set, outputPath, floatDType);
            return new CheckpointFusionResult(outputPath, changed, set.Reports.ToList());
        }
        finally
        {
            foreach (var m in modules.Values) m.Dispose();
        }
    }

    /// <summary>The components LoRAs adapt that the checkpoint holds (UNet and text encoders; never the VAE).</summary>
    private static List<string> Adaptable(SdxlCheckpoint checkpoint) =>
        checkpoint.Components.Where(c => c != Models.ModelComponent.Vae).Select(Models.ModelComponents.Name).ToList();

    private static Dictionary<string, torch.Tensor> Replacements(SdxlCheckpoint checkpoint, IReadOnlyDictionary<string, torch.nn.Module> modules, LoraAdapterSet set, string component)
    {
        if (!set.FusedParameters.TryGetValue(component, out var changed) || changed.Count == 0) return [];
        var parameters = modules[component].named_parameters().ToDictionary(p => p.name, p => (torch.Tensor)p.parameter, StringComparer.Ordinal);
        return FusedCheckpointWriter.ToFileKeys(parameters, changed, checkpoint.MapFor(component, parameters.Keys));
    }

    private static List<string> WriteSingleFile(SdxlCheckpoint checkpoint, List<string> components, IReadOnlyDictionary<string, torch.nn.Module> modules, LoraAdapterSet set, string output, SafeTensorDType? dtype)
    {
        var replacements = components.SelectMany(c => Replacements(checkpoint, modules, set, c)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        FusedCheckpointWriter.Write(checkpoint.SourceFor("unet").Files[0], replacements, output, dtype);
        return [.. replacements.Keys.Order(StringComparer.Ordinal)];
    }

    private static List<string> WriteFolder(SdxlCheckpoint checkpoint, List<string> components, IReadOnlyDictionary<string, torch.nn.Module> modules, LoraAdapterSet set, string output, SafeTensorDType? dtype)
    {
        if (Path.GetFullPath(output).TrimEnd(Path.DirectorySeparatorChar) == checkpoint.Path.TrimEnd(Path.DirectorySeparatorChar))
            throw new LcmLoraInputException($"{output}: the output folder would overwrite the input model.");
        CopyFolder(checkpoint.Path, output, checkpoint);
        var changed = new List<string>();
        foreach (var c in checkpoint.Components.Select(Models.ModelComponents.Name))
        {
            var replacements = components.Contains(c) ? Replacements(checkpoint, modules, set, c) : [];
            foreach (var file in checkpoint.SourceFor(c).Files)
            {
                var target = Path.Combine(output, Path.GetRelativePath(checkpoint.Path, file.FilePath));
                var mine = replacements.Where(kv => file.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
                FusedCheckpointWriter.Write(file, mine, target, dtype);
                changed.AddRange(mine.Keys.Select(k => $"{c}/{k}"));
            }
        }
        return [.. changed.Order(StringComparer.Ordinal)];
    }

    /// <summary>Copies everything except the weight files that will be rewritten (configs, tokenizers, scheduler, other files).</summary>
    private static void CopyFolder(string source, string target, SdxlCheckpoint checkpoint)
    {
        var rewritten = checkpoint.Components.Select(Models.ModelComponents.Name).SelectMany(c => checkpoint.SourceFor(c).Files.Select(f => Path.GetFullPath(f.FilePath))).ToHashSet();
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            if (rewritten.Contains(Path.GetFullPath(file)) || file.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) continue;
            var dest = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
            File.Copy(file, dest, overwrite: true);
        }
    }
}
