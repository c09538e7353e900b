using LcmLora.IO;
using LcmLora.Models;
using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>A loaded component's module and the names of its parameters whose values changed.</summary>
internal sealed record ChangedWeights(torch.nn.Module Module, IReadOnlyList<string> Names);

/// <summary>
/// Writes a copy of an opened checkpoint in its own layout with some weights changed (LoRAs baked in): a single file in,
/// a single file out with the same keys, order and metadata; a diffusers folder in, a folder out. Only changed tensors
/// get new values; every other tensor and file is copied byte for byte.
/// </summary>
/// <remarks>
/// Outputs are written atomically: a file through a flushed temporary file renamed into place, a folder as a
/// temporary sibling folder swapped in at the end. A failed or cancelled write leaves no partial output, and an existing
/// output stays as it was. A folder's weight files other than the ones loaded (e.g. <c>*.fp16.safetensors</c>
/// variants) would be copied unchanged, so such folders are refused.
/// </remarks>
internal static class CheckpointRewrite
{
    /// <summary>
    /// Writes <paramref name="output"/>: <paramref name="checkpoint"/> with each component's changed parameters
    /// (our names, the module's live values) in place of the stored ones.
    /// </summary>
    /// <returns>The checkpoint keys written with new values (in a folder: <c>component/key</c>), in order.</returns>
    public static List<string> Write(SdxlCheckpoint checkpoint, IReadOnlyDictionary<ModelComponent, ChangedWeights> changes,
        string output, SafeTensorDType? dtype, CancellationToken cancellationToken) =>
        checkpoint.Layout == CheckpointLayout.SgmSingleFile
            ? WriteSingleFile(checkpoint, changes, output, dtype, cancellationToken)
            : WriteFolder(checkpoint, changes, output, dtype, cancellationToken);

    /// <summary>A component's changed parameters by checkpoint key (see <see cref="FusedCheckpointWriter.ToFileKeys"/>).</summary>
    private static Dictionary<string, torch.Tensor> Replacements(SdxlCheckpoint checkpoint,
        IReadOnlyDictionary<ModelComponent, ChangedWeights> changes, ModelComponent component)
    {
        if (!changes.TryGetValue(component, out var change) || change.Names.Count == 0) return [];
        var parameters = change.Module.named_parameters().ToDictionary(p => p.name, p => (torch.Tensor)p.parameter, StringComparer.Ordinal);
        return FusedCheckpointWriter.ToFileKeys(parameters, change.Names, checkpoint.MapFor(component, parameters.Keys));
    }

    private static List<string> WriteSingleFile(SdxlCheckpoint checkpoint, IReadOnlyDictionary<ModelComponent, ChangedWeights> changes,
        string output, SafeTensorDType? dtype, CancellationToken cancellationToken)
    {
        var replacements = changes.Keys.SelectMany(c => Replacements(checkpoint, changes, c)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        FusedCheckpointWriter.Write(checkpoint.SourceFor(ModelComponent.Unet).Files[0], replacements, output, dtype, cancellationToken);
        return [.. replacements.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Refuses, before anything loads, an output that would overwrite or sit inside the input, an output of the wrong
    /// kind (a folder for a single file, a file for a folder, a device node), and a folder whose extra weight files
    /// would be copied unfused.
    /// </summary>
    public static void CheckOutput(SdxlCheckpoint checkpoint, string output)
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
        checkpoint.Components.SelectMany(c => checkpoint.SourceFor(c).Files.Select(f => Path.GetFullPath(f.FilePath))).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Writes the fused folder as a hidden temporary sibling of <paramref name="output"/> and swaps it in at the end:
    /// an interrupted fuse never leaves a mix of new and old components in <paramref name="output"/>.
    /// </summary>
    private static List<string> WriteFolder(SdxlCheckpoint checkpoint, IReadOnlyDictionary<ModelComponent, ChangedWeights> changes,
        string output, SafeTensorDType? dtype, CancellationToken cancellationToken)
    {
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = OutputFile.TemporarySibling(target, "partial");
        try
        {
            CopyFolder(checkpoint.Path, temp, LoadedFiles(checkpoint), cancellationToken);
            var changed = new List<string>();
            foreach (var c in checkpoint.Components)
            {
                var replacements = Replacements(checkpoint, changes, c);
                foreach (var file in checkpoint.SourceFor(c).Files)
                {
                    var written = Path.Combine(temp, Path.GetRelativePath(checkpoint.Path, file.FilePath));
                    Directory.CreateDirectory(Path.GetDirectoryName(written)!);
                    var mine = replacements.Where(kv => file.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
                    FusedCheckpointWriter.Write(file, mine, written, dtype, cancellationToken);
                    changed.AddRange(mine.Keys.Select(k => $"{c.Name()}/{k}"));
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
