using System.Text.Json;
using LcmLora.Checkpoints;
using LcmLora.Models.Clip;
using TorchSharp;

namespace LcmLora.Tests.Models.Clip;

/// <summary>The tiny SDXL text encoders of the fixtures and the full-size manifests.</summary>
internal static class TinyClip
{
    public static string Folder(string component) => Fixtures.Path("tiny-sdxl", "diffusers", component);

    public static string WeightsFile(string component) => Path.Combine(Folder(component), "model.safetensors");

    public static ClipTextConfig Config(string component) => ClipTextConfig.FromJson(Path.Combine(Folder(component), "config.json"));

    /// <summary>The tiny encoder with its diffusers weights loaded.</summary>
    public static ClipTextModel Load(string component)
    {
        var model = new ClipTextModel(Config(component));
        model.eval();
        WeightLoader.LoadDiffusers(component, model, WeightsFile(component));
        return model;
    }

    /// <summary>Name to shape of one component in the diffusers manifest.</summary>
    public static Dictionary<string, long[]> DiffusersManifest(string component)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-diffusers.json")));
        return Shapes(doc.RootElement.GetProperty("components").GetProperty(component));
    }

    /// <summary>Key to shape of every tensor in the SGM manifest.</summary>
    public static Dictionary<string, long[]> SgmManifest()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-sgm.json")));
        return Shapes(doc.RootElement.GetProperty("tensors"));
    }

    /// <summary>Parameter count of a component as the diffusers manifest states it.</summary>
    public static long ManifestParamCount(string component)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-diffusers.json")));
        return doc.RootElement.GetProperty("param_counts").GetProperty(component).GetInt64();
    }

    public static ClipTextModel Meta(ClipTextConfig config) => new(config, torch.device("meta"));

    private static Dictionary<string, long[]> Shapes(JsonElement obj) =>
        obj.EnumerateObject().ToDictionary(
            p => p.Name,
            p => p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
            StringComparer.Ordinal);
}
