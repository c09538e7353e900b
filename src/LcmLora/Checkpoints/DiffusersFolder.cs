using System.Text.Json;
using LcmLora.Models;

namespace LcmLora.Checkpoints;

/// <summary>
/// Finds the files of a diffusers pipeline folder: <c>model_index.json</c>, and per component
/// (<c>unet/</c>, <c>text_encoder/</c>, <c>text_encoder_2/</c>, <c>vae/</c>) its <c>config.json</c> and weights:
/// a single <c>*.safetensors</c>, a sharded set listed in <c>*.safetensors.index.json</c>, or the
/// <c>fp16</c> variant (<c>*.fp16.safetensors</c>). Pickle weights (<c>*.bin</c>) are never used.
/// </summary>
internal sealed class DiffusersFolder
{
    private static readonly string[] WeightStems = ["diffusion_pytorch_model", "model"];

    /// <summary>
    /// The file a component's weights are saved as: <c>model.safetensors</c> for the text encoders (transformers),
    /// <c>diffusion_pytorch_model.safetensors</c> for diffusers models.
    /// </summary>
    public static string WeightFileName(ModelComponent component) =>
        (component.IsTextEncoder() ? WeightStems[1] : WeightStems[0]) + ".safetensors";

    private DiffusersFolder(string root) => Root = root;

    /// <summary>The pipeline folder.</summary>
    public string Root { get; }

    /// <summary>True when <paramref name="path"/> is a folder with a model_index.json or a unet/ subfolder.</summary>
    public static bool IsDiffusersFolder(string path) =>
        Directory.Exists(path) && (File.Exists(Path.Combine(path, "model_index.json")) || Directory.Exists(Path.Combine(path, ModelComponent.Unet.Name())));

    /// <summary>Opens a pipeline folder.</summary>
    /// <exception cref="LcmLoraInputException">It is not one.</exception>
    public static DiffusersFolder Open(string path)
    {
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"{path}: folder not found.");
        if (!IsDiffusersFolder(path))
            throw new LcmLoraInputException($"{path}: not a diffusers pipeline folder (expected model_index.json and unet/, vae/, text_encoder/, text_encoder_2/).");
        return new DiffusersFolder(Path.GetFullPath(path));
    }

    /// <summary>The component's folder, or null when absent.</summary>
    public string? ComponentDir(ModelComponent component)
    {
        var dir = Path.Combine(Root, component.Name());
        return Directory.Exists(dir) ? dir : null;
    }

    /// <summary>The component's config.json.</summary>
    /// <exception cref="LcmLoraInputException">It is missing.</exception>
    public string ConfigPath(ModelComponent component)
    {
        var path = Path.Combine(Root, component.Name(), "config.json");
        return File.Exists(path) ? path : throw new LcmLoraInputException($"{path}: missing (every diffusers component folder has a config.json).");
    }

    /// <summary>
    /// The component's safetensors weight files. Prefers the full-precision file, then the <paramref name="variant"/>
    /// (e.g. "fp16") file; for a sharded checkpoint, every shard named in the index.
    /// </summary>
    /// <exception cref="LcmLoraInputException">No safetensors weights exist (only pickle .bin files, say).</exception>
    public IReadOnlyList<string> WeightFiles(ModelComponent component, string? variant = null) =>
        WeightFilesIn(ComponentDir(component) ?? throw new LcmLoraInputException($"{Path.Combine(Root, component.Name())}: component folder not found."), variant);

    /// <summary>The safetensors weight files of one component folder (see <see cref="WeightFiles"/>).</summary>
    public static IReadOnlyList<string> WeightFilesIn(string dir, string? variant = null)
    {
        var suffixes = variant is null ? new[] { "", ".fp16" } : new[] { "." + variant, "" };
        foreach (var suffix in suffixes)
            foreach (var stem in WeightStems)
            {
                var single = Path.Combine(dir, $"{stem}{suffix}.safetensors");
                if (File.Exists(single)) return [single];
                var index = Path.Combine(dir, $"{stem}.safetensors.index{suffix}.json");
                if (!File.Exists(index)) index = Path.Combine(dir, $"{stem}{suffix}.safetensors.index.json");
                if (File.Exists(index)) return Shards(index);
            }
        var pickles = Directory.EnumerateFiles(dir, "*.bin").Select(Path.GetFileName).ToList();
        throw new LcmLoraInputException(pickles.Count > 0
            ? $"{dir}: only pickle weights ({string.Join(", ", pickles)}); LcmLora never unpickles files. Convert them to .safetensors."
            : $"{dir}: no .safetensors weights found.");
    }

    private static IReadOnlyList<string> Shards(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            var map = doc.RootElement.GetProperty("weight_map");
            var dir = Path.GetDirectoryName(indexPath)!;
            var files = map.EnumerateObject().Select(p => p.Value.GetString() ?? "").Distinct().Order(StringComparer.Ordinal)
                .Select(f => Path.Combine(dir, f)).ToList();
            foreach (var f in files)
                if (!File.Exists(f)) throw new LcmLoraInputException($"{indexPath}: shard '{Path.GetFileName(f)}' listed in weight_map is missing.");
            return files;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new LcmLoraInputException($"{indexPath}: not a valid safetensors index (expected an object with 'weight_map').", e);
        }
    }
}
