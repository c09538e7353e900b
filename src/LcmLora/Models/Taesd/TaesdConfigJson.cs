using System.Text.Json;

namespace LcmLora.Models.Taesd;

/// <summary>Typed reads of optional config.json fields, naming the file and field in every error.</summary>
internal readonly struct TaesdConfigJson(string path, JsonElement root)
{
    private bool TryGet(string name, out JsonElement value) =>
        root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    public int Int(string name, int fallback)
    {
        if (!TryGet(name, out var v)) return fallback;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i)) return i;
        throw Wrong(name, "an integer", v);
    }

    public double Double(string name, double fallback)
    {
        if (!TryGet(name, out var v)) return fallback;
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        throw Wrong(name, "a number", v);
    }

    public bool Bool(string name, bool fallback)
    {
        if (!TryGet(name, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(name, "true or false", v),
        };
    }

    public string String(string name, string fallback)
    {
        if (!TryGet(name, out var v)) return fallback;
        if (v.ValueKind == JsonValueKind.String) return v.GetString()!;
        throw Wrong(name, "a string", v);
    }

    /// <summary>A list of integers (diffusers writes tuples as JSON arrays).</summary>
    public IReadOnlyList<int> Ints(string name, IReadOnlyList<int> fallback)
    {
        if (!TryGet(name, out var v)) return fallback;
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(name, "an array of integers", v);
        var result = new List<int>();
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var i)) throw Wrong(name, "an array of integers", v);
            result.Add(i);
        }
        return result.AsReadOnly();
    }

    private LcmLoraInputException Wrong(string name, string expected, JsonElement got) =>
        new($"{path}: field '{name}' must be {expected}, got {got.GetRawText()}.");
}
