using LcmLora.Checkpoints;
using LcmLora.IO;
using TorchSharp;

namespace LcmLora.Lora;

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
/// <remarks>
/// Outputs are written atomically: a file through a flushed temporary file renamed into place, a folder as a
/// temporary sibling folder swapped in at the end. A failed or cancelled fuse leaves no partial output, and an existing
/// output stays as it was. A folder's weight files other than the ones loaded (e.g. <c>*.fp16.safetensors</c>
/// variants) would be copied unfused, so such folders are refused.
/// </remarks>
public static class CheckpointLoraFusion
{

    /// <summary>Fuses <paramref name="loras"/> into the checkpoint at <paramref name="modelPath"/> and writes <paramref name="outputPath"/>.</summary>
    /// <param name="modelPath">An SDXL single file or diffusers folder.</param>
    /// <param name="loras">The LoRAs and their weights.</param>
    /// <param name="outputPath">The file (single-file input) or folder (diffusers input) to write.</param>
    /// <param name="floatDType">Write every float tensor in this dtype; default: as stored.</param>
    /// <param name="progress">Receives a short description of each stage.</param>
    /// <param name="cancellationToken">Checked between tensors while loading, fusing and writing.</param>
    /// <param name="configDir">Configs for fields a single file's shapes leave open (see <see cref="SdxlCheckpoint.Open(string, string?, string?)"/>).</param>
    /// <exception cref="LcmLoraInputException">No LoRA, an output that would overwrite the input or has the wrong kind
    /// (checked before anything loads), a folder with weight files that would be copied unfused.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; no output was written.</exception>
    public static CheckpointFusionResult Fuse(string modelPath, IReadOnlyList<LoraSpec> loras, string outputPath, SafeTensorDType? floatDType = null,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default, string? configDir = null)
    {
        if (loras.Count == 0) throw new LcmLoraInputException("Give at least one LoRA to fuse.");
        using var checkpoint = SdxlCheckpoint.Open(modelPath, configDir: configDir);
        // The components LoRAs adapt that this checkpoint holds (UNet and text encoders; never the VAE).
        var components = checkpoint.Components.Where(c => c != Models.ModelComponent.Vae).Select(Models.ModelComponents.Name).ToList();
        CheckOutput(checkpoint, outputPath);
        var modules = new Dictionary<string, torch.nn.Module>();
        try
        {
            foreach (var c in components)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report($"load {c}");
                var source = checkpoint.SourceFor(c);
                var module = SdxlCheckpoint.Build(c, checkpoint.Configs, torch.device("meta"));
                modules[c] = module;
                var names = WeightMap.ShapesOf(module).Keys.ToList();
                var map = checkpoint.MapFor(c, names);
                var stored = source.Info(map.Entries[names.First(n => n.EndsWith(".weight", StringComparison.Ordinal))].Key).DType.ToScalarType();
                WeightLoader.Load(c, module, map, source, stored is torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Float64 ? stored : torch.ScalarType.Float32,
                    cancellationToken: cancellationToken);
            }
            using var set = LoraAdapterSet.FromModules(modules, keepOriginals: false);
            for (var i = 0; i < loras.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report($"match {Path.GetFileName(loras[i].Path)}");
                set.Add($"{i}:{Path.GetFileNameWithoutExtension(loras[i].Path)}", loras[i].Path, loras[i].Weight);
            }
            progress?.Report("fuse");
            set.Fuse(cancellationToken);
            progress?.Report("write");
            var changed = checkpoint.Layout == CheckpointLayout.SgmSingleFile
                ? WriteSingleFile(checkpoint, modules, set, outputPath, floatDType, cancellationToken)
                : WriteFolder(checkpoint, modules, set, outputPath, floatDType, cancellationToken);
            return new CheckpointFusionResult(outputPath, changed, set.Reports.ToList());
        }
        finally
        {
            foreach (var m in modules.Values) m.Dispose();
        }
    }

    private static Dictionary<string, torch.Tensor> Replacements(SdxlCheckpoint checkpoint, IReadOnlyDictionary<string, torch.nn.Module> modules, LoraAdapterSet set, string component)
    {
        if (!set.FusedParameters.TryGetValue(component, out var changed) || changed.Count == 0) return [];
        var parameters = modules[component].named_parameters().ToDictionary(p => p.name, p => (torch.Tensor)p.parameter, StringComparer.Ordinal);
        return FusedCheckpointWriter.ToFileKeys(parameters, changed, checkpoint.MapFor(component, parameters.Keys));
    }

    private static List<string> WriteSingleFile(SdxlCheckpoint checkpoint, IReadOnlyDictionary<string, torch.nn.Module> modules, LoraAdapterSet set, string output,
        SafeTensorDType? dtype, CancellationToken cancellationToken)
    {
        var replacements = checkpoint.Components.Where(c => c != Models.ModelComponent.Vae).Select(Models.ModelComponents.Name).SelectMany(c => Replacements(checkpoint, modules, set, c)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        FusedCheckpointWriter.Write(checkpoint.SourceFor("unet").Files[0], replacements, output, dtype, cancellationToken);
        return [.. replacements.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Refuses, before anything loads, an output that would overwrite or sit inside the input, an output of the wrong
    /// kind (a folder for a single file, a file for a folder, a device node), and a folder whose extra weight files
    /// would be copied unfused.
    /// </summary>
    private static void CheckOutput(SdxlCheckpoint checkpoint, string output)
    {
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        var input = Path.TrimEndingDirectorySeparator(Path.GetFullPath(checkpoint.Path));
        if (checkpoint.Layout == CheckpointLayout.SgmSingleFile)
        {
            if (SameFile(target, input)) throw new LcmLoraInputException($"{output}: the output would overwrite the input checkpoint.");
            if (Directory.Exists(target))
                throw new LcmLoraInputException($"{output}: is a folder; a single-file checkpoint fuses into a file (e.g. {Path.Combine(output, Path.GetFileName(input))}).");
            OutputFile.CheckTarget(target);
            return;
        }
        if (SameFile(target, input) || target.StartsWith(input + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new LcmLoraInputException($"{output}: the output folder would overwrite or sit inside the input model folder {checkpoint.Path}.");
        if (File.Exists(target)) throw new LcmLoraInputException($"{output}: is a file; a diffusers folder fuses into a folder.");
        var loaded = LoadedFiles(checkpoint);
        var unfused = WalkFiles(checkpoint.Path)
            .Where(f => f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) && !loaded.Contains(Path.GetFullPath(f)))
            .Select(f => Path.GetRelativePath(checkpoint.Path, f)).Order(StringComparer.Ordinal).ToList();
        if (unfused.Count > 0)
            throw new LcmLoraInputException($"{checkpoint.Path}: holds weight files that fuse does not load and would copy unfused: {string.Join(", ", unfused.Take(5))}" +
                $"{(unfused.Count > 5 ? ", ..." : "")}. Fuse a copy of the folder without them (variants such as *.fp16.safetensors included).");
    }

    private static bool SameFile(string a, string b) => string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal);

    /// <summary>The final target of a symbolic link, or the path itself.</summary>
    private static string Resolve(string path)
    {
        try
        {
            var info = Directory.Exists(path) ? (FileSystemInfo)new DirectoryInfo(path) : new FileInfo(path);
            return info.Exists && info.ResolveLinkTarget(returnFinalTarget: true) is { } target ? target.FullName : path;
        }
        catch (IOException)
        {
            return path;
        }
    }

    private static HashSet<string> LoadedFiles(SdxlCheckpoint checkpoint) =>
        checkpoint.Components.Select(Models.ModelComponents.Name).SelectMany(c => checkpoint.SourceFor(c).Files.Select(f => Path.GetFullPath(f.FilePath))).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Writes the fused folder as a hidden temporary sibling of <paramref name="output"/> and swaps it in at the end:
    /// an interrupted fuse never leaves a mix of new and old components in <paramref name="output"/>.
    /// </summary>
    private static List<string> WriteFolder(SdxlCheckpoint checkpoint, IReadOnlyDictionary<string, torch.nn.Module> modules, LoraAdapterSet set, string output,
        SafeTensorDType? dtype, CancellationToken cancellationToken)
    {
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = OutputFile.TemporarySibling(target, "partial");
        try
        {
            CopyFolder(checkpoint.Path, temp, LoadedFiles(checkpoint), cancellationToken);
            var changed = new List<string>();
            foreach (var c in checkpoint.Components.Select(Models.ModelComponents.Name))
            {
                var replacements = c != Models.ModelComponents.Name(Models.ModelComponent.Vae) ? Replacements(checkpoint, modules, set, c) : [];
                foreach (var file in checkpoint.SourceFor(c).Files)
                {
                    var written = Path.Combine(temp, Path.GetRelativePath(checkpoint.Path, file.FilePath));
                    Directory.CreateDirectory(Path.GetDirectoryName(written)!);
                    var mine = replacements.Where(kv => file.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
                    FusedCheckpointWriter.Write(file, mine, written, dtype, cancellationToken);
                    changed.AddRange(mine.Keys.Select(k => $"{c}/{k}"));
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
            SwapIn(temp, target);
            return [.. changed.Order(StringComparer.Ordinal)];
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>Renames <paramref name="temp"/> to <paramref name="target"/>; an existing target is moved aside first and deleted after.</summary>
    private static void SwapIn(string temp, string target)
    {
        if (!Directory.Exists(target))
        {
            Directory.Move(temp, target);
            return;
        }
        var old = OutputFile.TemporarySibling(target, "old");
        Directory.Move(target, old);
        try
        {
            Directory.Move(temp, target);
        }
        catch
        {
            Directory.Move(old, target);
            throw;
        }
        Directory.Delete(old, recursive: true);
    }

    /// <summary>Copies everything except the weight files that will be rewritten (configs, tokenizers, scheduler, other files).</summary>
    private static void CopyFolder(string source, string target, HashSet<string> rewritten, CancellationToken cancellationToken)
    {
        foreach (var file in WalkFiles(source))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (rewritten.Contains(Path.GetFullPath(file)) || file.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) continue;
            var dest = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
            File.Copy(file, dest, overwrite: true);
        }
    }

    /// <summary>
    /// Every file under <paramref name="root"/>, following symbolic links to folders (the Hugging Face cache is made of
    /// them) but entering each real folder once, so a link loop ends instead of recursing forever.
    /// </summary>
    private static IEnumerable<string> WalkFiles(string root)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([root]);
        while (pending.Count > 0)
        {
            var dir = pending.Pop();
            if (!seen.Add(Resolve(Path.GetFullPath(dir)))) continue;
            foreach (var file in Directory.EnumerateFiles(dir)) yield return file;
            foreach (var sub in Directory.EnumerateDirectories(dir)) pending.Push(sub);
        }
    }
}
