using System.Text.Json;
using LcmLora.Models;
using Xunit;

namespace LcmLora.Tests;

/// <summary>Compares model configs field by field (records holding lists compare lists by reference, and Source names the origin).</summary>
internal static class ConfigAssert
{
    public static void Equal(SdxlConfigs expected, SdxlConfigs actual)
    {
        Assert.Equal(Json(expected.Unet with { Source = "" }), Json(actual.Unet with { Source = "" }));
        Assert.Equal(Json(expected.Vae with { Source = "" }), Json(actual.Vae with { Source = "" }));
        Assert.Equal(expected.TextEncoder, actual.TextEncoder);
        Assert.Equal(expected.TextEncoder2, actual.TextEncoder2);
    }

    public static string Json<T>(T value) => JsonSerializer.Serialize(value);
}
