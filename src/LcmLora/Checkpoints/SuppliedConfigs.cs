using System.Text.Json.Nodes;
using LcmLora.Models;

namespace LcmLora.Checkpoints;

/// <summary>
/// Configs a user supplies for a checkpoint (<c>--config DIR</c>): a diffusers pipeline folder
/// (<c>unet/config.json</c>, <c>vae/config.json</c>, ...), one component folder holding a <c>config.json</c>, or a
/// <c>config.json</c> file. A lone config is assigned to its component by its contents (<c>_class_name</c>,
/// <c>architectures</c>).
/// </summary>
internal sealed class SuppliedConfigs
{
    private readonly string _root;
    private readonly string? _single;

    public SuppliedConfigs(string root, string? single = null)
    {
        _root = root;
        _single = single;
    }

    /// <summary>Reads the location; a path that holds no config at all is an error.</summary>
    public static SuppliedConfigs Read(string path)
    {
        if (File.Exists(path)) return new SuppliedConfigs(Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFullPath(path));
        if (!Directory.Exists(path)) throw new LcmLoraInputException($"--config {path}: no such folder or file.");
        if (File.Exists(Path.Combine(path, "config.json"))) return new SuppliedConfigs(path, Path.Combine(path, "config.json"));
        if (!ModelComponents.All.Any(c => File.Exists(Path.Combine(path, c.Name(), "config.json"))))
            throw new LcmLoraInputException($"--config {path}: no config.json in it or in its unet/, text_encoder/, text_encoder_2/ or vae/ folders.");
        return new SuppliedConfigs(path);
    }

    /// <summary>The config file that applies to <paramref name="component"/> (or the folder, when there is none).</summary>
    public string Describe(ModelComponent component) =>
        _single ?? (File.Exists(ComponentPath(component)) ? ComponentPath(component) : _root);

    /// <summary>The supplied config of <paramref name="component"/>, or null.</summary>
    public JsonObject? For(ModelComponent component, ModelFamily family)
    {
        if (_single is null) return File.Exists(ComponentPath(component)) ? ConfigResolver.ReadObject(ComponentPath(component)) : null;
        var json = ConfigResolver.ReadObject(_single);
        return KindOf(json, family) == component ? json : null;
    }

    private string ComponentPath(ModelComponent component) => Path.Combine(_root, component.Name(), "config.json");

    private static ModelComponent? KindOf(JsonObject json, ModelFamily family)
    {
        var className = json["_class_name"]?.GetValue<string>();
        if (className == "UNet2DConditionModel") return ModelComponent.Unet;
        if (className == "AutoencoderKL") return ModelComponent.Vae;
        if (json["architectures"] is not JsonArray archs) return null;
        var names = archs.Select(a => a?.GetValue<string>() ?? "").ToList();
        if (!names.Any(n => n.StartsWith("CLIPText", StringComparison.Ordinal))) return null;
        var encoders = family.Components.Where(c => c is ModelComponent.TextEncoder or ModelComponent.TextEncoder2).ToList();
        if (encoders.Count == 1) return encoders[0];
        return names.Any(n => n.EndsWith("WithProjection", StringComparison.Ordinal)) ? ModelComponent.TextEncoder2 : ModelComponent.TextEncoder;
    }
}
