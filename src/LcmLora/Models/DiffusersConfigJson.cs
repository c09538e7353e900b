using System.Text.Json;

namespace LcmLora.Models;

/// <summary>
/// Typed reads from a diffusers <c>config.json</c>. JSON <c>null</c> counts as absent; unknown fields are ignored;
/// every failure is a <see cref="ModelConfigException"/> naming the file and the field.
/// </summary>
internal sealed class DiffusersConfigJson
{
    private readonly JsonElement _root;

    private DiffusersConfigJson(string file, JsonElement root)
    {
        File = file;
        _root = root;
    }

    /// <summary>The file name used in messages.</summary>
    public string File { get; }

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    public static DiffusersConfigJson Load(string path)
    {
        string text;
        try { text = System.IO.File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelConfigException(path, "", "cannot be read: " + e.Message, e);
        }
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelConfigException(path, "", "is not a JSON object");
            return new DiffusersConfigJson(path, doc.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw new ModelConfigException(path, "", "is not valid JSON: " + e.Message, e);
        }
    }

    /// <summary>Wraps an in-memory config; <paramref name="source"/> names it in messages.</summary>
    public static DiffusersConfigJson FromObject(string source, System.Text.Json.Nodes.JsonObject config)
    {
        using var doc = JsonDocument.Parse(config.ToJsonString());
        return new DiffusersConfigJson(source, doc.RootElement.Clone());
    }

    /// <summary>The whole config as a mutable JSON object.</summary>
    public System.Text.Json.Nodes.JsonObject ToObject() => System.Text.Json.Nodes.JsonNode.Parse(_root.GetRawText())!.AsObject();

    /// <summary>True when the field is present and not null.</summary>
    public bool Has(string field) => _root.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>True when the field is present with the value null.</summary>
    public bool IsNull(string field) => _root.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Null;

    /// <summary>An error about <paramref name="field"/>.</summary>
    public ModelConfigException Error(string field, string problem) => new(File, field, problem);

    /// <summary>The raw value of a required field.</summary>
    public JsonElement Required(string field) =>
        _root.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? v : throw Error(field, "is required but missing");

    /// <summary>An integer field, or <paramref name="fallback"/> when absent.</summary>
    public int Int(string field, int? fallback = null) =>
        Has(field) ? AsInt(field, _root.GetProperty(field)) : fallback ?? throw Error(field, "is required but missing");

    /// <summary>An optional integer field.</summary>
    public int? OptionalInt(string field) => Has(field) ? AsInt(field, _root.GetProperty(field)) : null;

    /// <summary>A number field, or <paramref name="fallback"/> when absent.</summary>
    public double Double(string field, double? fallback = null)
    {
        if (!Has(field)) return fallback ?? throw Error(field, "is required but missing");
        var v = _root.GetProperty(field);
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Error(field, $"must be a number, found {v.ValueKind}");
    }

    /// <summary>An optional number field.</summary>
    public double? OptionalDouble(string field) => Has(field) ? Double(field) : null;

    /// <summary>A boolean field, or <paramref name="fallback"/> when absent.</summary>
    public bool Bool(string field, bool fallback)
    {
        if (!Has(field)) return fallback;
        var v = _root.GetProperty(field);
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(field, $"must be true or false, found {v.ValueKind}"),
        };
    }

    /// <summary>A string field, or <paramref name="fallback"/> when absent (null fallback: optional).</summary>
    public string? String(string field, string? fallback = null)
    {
        if (!Has(field)) return fallback;
        var v = _root.GetProperty(field);
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error(field, $"must be a string, found {v.ValueKind}");
    }

    /// <summary>A required list of strings.</summary>
    public IReadOnlyList<string> StringList(string field)
    {
        var v = Required(field);
        if (v.ValueKind != JsonValueKind.Array) throw Error(field, "must be a list of strings");
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Error(field, "must be a list of strings")).ToArray();
    }

    /// <summary>A list of integers, or <paramref name="fallback"/> when absent.</summary>
    public IReadOnlyList<int> IntList(string field, IReadOnlyList<int> fallback) => Has(field) ? IntList(field) : fallback;

    /// <summary>A required list of integers.</summary>
    public IReadOnlyList<int> IntList(string field)
    {
        var v = Required(field);
        if (v.ValueKind != JsonValueKind.Array) throw Error(field, "must be a list of integers");
        return v.EnumerateArray().Select(e => AsInt(field, e)).ToArray();
    }

    /// <summary>A required list of numbers.</summary>
    public IReadOnlyList<double> DoubleList(string field)
    {
        var v = Required(field);
        if (v.ValueKind != JsonValueKind.Array) throw Error(field, "must be a list of numbers");
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Error(field, "must be a list of numbers")).ToArray();
    }

    /// <summary>
    /// A field that is either one integer (repeated <paramref name="count"/> times) or a list of exactly
    /// <paramref name="count"/> integers; <paramref name="fallback"/> when absent.
    /// </summary>
    public IReadOnlyList<int> IntOrList(string field, int count, int? fallback = null)
    {
        if (!Has(field))
            return fallback is int f ? Enumerable.Repeat(f, count).ToArray() : throw Error(field, "is required but missing");
        var v = _root.GetProperty(field);
        if (v.ValueKind == JsonValueKind.Number) return Enumerable.Repeat(AsInt(field, v), count).ToArray();
        if (v.ValueKind != JsonValueKind.Array) throw Error(field, "must be an integer or a list of integers");
        var list = v.EnumerateArray().Select(e => AsInt(field, e)).ToArray();
        return list.Length == count ? list : throw Error(field, $"has {list.Length} entries, expected {count} (one per block)");
    }

    /// <summary>The raw value of an optional field.</summary>
    public JsonElement? Raw(string field) => Has(field) ? _root.GetProperty(field) : null;

    /// <summary>Reads an integer, accepting integral numbers written as floats (e.g. 1.0).</summary>
    public int AsInt(string field, JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Number)
        {
            if (e.TryGetInt32(out var i)) return i;
            if (e.TryGetDouble(out var d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
        }
        throw Error(field, $"must be an integer, found {e}");
    }
}
