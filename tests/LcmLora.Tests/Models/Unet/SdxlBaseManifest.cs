using System.Text.Json;

namespace LcmLora.Tests.Models.Unet;

/// <summary>Reads fixtures/manifests/sdxl-base-diffusers.json: keys, shapes, parameter counts and configs of SDXL base.</summary>
internal static class SdxlBaseManifest
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "sdxl-base-diffusers.json"))));

    private static JsonElement Root => Document.Value.RootElement;

    /// <summary>Every key of <paramref name="component"/> (unet, vae, ...) with its shape.</summary>
    public static IReadOnlyDictionary<string, long[]> Shapes(string component) =>
        Root.GetProperty("components").GetProperty(component).EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(), StringComparer.Ordinal);

    /// <summary>The recorded parameter count of <paramref name="component"/>.</summary>
    public static long ParameterCount(string component) => Root.GetProperty("param_counts").GetProperty(component).GetInt64();

    /// <summary>Parses the recorded config of <paramref name="component"/> through a temporary config.json.</summary>
    public static T ParseConfig<T>(string component, Func<string, T> fromJson) =>
        TempConfig.Parse(Root.GetProperty("configs").GetProperty(component).GetRawText(), fromJson);
}
