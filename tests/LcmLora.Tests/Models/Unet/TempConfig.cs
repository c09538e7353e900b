using System.Text.Json.Nodes;

namespace LcmLora.Tests.Models.Unet;

/// <summary>Writes config.json text to a temporary folder, parses it, and deletes it again.</summary>
internal static class TempConfig
{
    /// <summary>Parses <paramref name="json"/> as a config.json file with <paramref name="fromJson"/>.</summary>
    public static T Parse<T>(string json, Func<string, T> fromJson)
    {
        var dir = Directory.CreateTempSubdirectory("lcmlora-config-");
        try
        {
            var path = Path.Combine(dir.FullName, "config.json");
            File.WriteAllText(path, json);
            return fromJson(path);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Parses the config at <paramref name="sourcePath"/> after <paramref name="edit"/> changed it.</summary>
    public static T ParseEdited<T>(string sourcePath, Action<JsonObject> edit, Func<string, T> fromJson)
    {
        var node = JsonNode.Parse(File.ReadAllText(sourcePath))!.AsObject();
        edit(node);
        return Parse(node.ToJsonString(), fromJson);
    }
}
