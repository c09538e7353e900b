using System.Text.Json;

namespace LcmLora.Tests;

/// <summary>Reads the full-size key manifests in fixtures/manifests (keys, shapes, dtypes; no weights).</summary>
public static class Manifests
{
    /// <summary>Diffusers-layout keys and shapes of one component (unet, vae, text_encoder, text_encoder_2).</summary>
    public static IReadOnlyDictionary<string, long[]> Diffusers(string component)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-diffusers.json")));
        return Shapes(doc.RootElement.GetProperty("components").GetProperty(component));
    }

    /// <summary>Parameter count of a component as the manifest states it.</summary>
    public static long DiffusersParamCount(string component)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-diffusers.json")));
        return doc.RootElement.GetProperty("param_counts").GetProperty(component).GetInt64();
    }

    /// <summary>Every key and shape of the SGM single-file manifest.</summary>
    public static IReadOnlyDictionary<string, long[]> Sgm()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-sgm.json")));
        return Shapes(doc.RootElement.GetProperty("tensors"));
    }

    private static Dictionary<string, long[]> Shapes(JsonElement tensors) =>
        tensors.EnumerateObject().ToDictionary(p => p.Name,
            p => p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(), StringComparer.Ordinal);
}
