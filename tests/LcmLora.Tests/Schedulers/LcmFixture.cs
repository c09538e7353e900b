using System.Text.Json;

namespace LcmLora.Tests.Schedulers;

/// <summary>The lcm-scheduler golden case: case.json and data.safetensors.</summary>
internal static class LcmFixture
{
    public static string DataPath => Fixtures.Path("lcm-scheduler", "data.safetensors");

    public static JsonElement Case { get; } = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("lcm-scheduler", "case.json"))).RootElement;

    /// <summary>Every timestep table: name ("orig50_steps4"), original steps, steps, and the list or the error text.</summary>
    public static IEnumerable<(string Name, int Original, int Steps, int[]? Timesteps, string? Error)> Tables()
    {
        foreach (var p in Case.GetProperty("timesteps_tables").EnumerateObject())
        {
            var parts = p.Name.Split('_');
            var original = int.Parse(parts[0]["orig".Length..]);
            var steps = int.Parse(parts[1]["steps".Length..]);
            if (p.Value.ValueKind == JsonValueKind.String)
                yield return (p.Name, original, steps, null, p.Value.GetString());
            else
                yield return (p.Name, original, steps, p.Value.EnumerateArray().Select(e => e.GetInt32()).ToArray(), null);
        }
    }
}
