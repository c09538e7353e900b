using System.Text.Json;
using System.Text.RegularExpressions;

namespace LcmLora.Lora;

/// <summary>
/// The PEFT LoraConfig that diffusers stores in a safetensors header under <c>__metadata__["lora_adapter_metadata"]</c>
/// (JSON). A pipeline-level save prefixes each field with the component (<c>"unet.lora_alpha"</c>); a model-level save
/// does not (<c>"lora_alpha"</c>). Read fields: <c>lora_alpha</c>, <c>alpha_pattern</c> (module-name regex to alpha)
/// and <c>use_rslora</c> (scale alpha / sqrt(r)).
/// </summary>
internal sealed class PeftAdapterMetadata
{
    /// <summary>The metadata entry name.</summary>
    public const string MetadataKey = "lora_adapter_metadata";

    private readonly Dictionary<string, JsonElement> _fields;

    private readonly string _source;

    private PeftAdapterMetadata(Dictionary<string, JsonElement> fields, string source)
    {
        _fields = fields;
        _source = source;
    }

    /// <summary>Parses the entry when present; null when absent.</summary>
    /// <exception cref="LoraFormatException">The entry is not a JSON object.</exception>
    public static PeftAdapterMetadata? From(IReadOnlyDictionary<string, string> metadata, string source)
    {
        if (!metadata.TryGetValue(MetadataKey, out var json)) return null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new LoraFormatException($"{source}: __metadata__ '{MetadataKey}' must be a JSON object.");
            return new PeftAdapterMetadata(doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal), source);
        }
        catch (JsonException e)
        {
            throw new LoraFormatException($"{source}: __metadata__ '{MetadataKey}' is not valid JSON ({e.Message}).", e);
        }
    }

    /// <summary>Alpha for a module of a component, and whether rsLoRA scaling applies; null alpha when not given.</summary>
    public (double? Alpha, bool RsLora) AlphaFor(string component, string modulePath)
    {
        var rs = Field(component, "use_rslora") is { ValueKind: JsonValueKind.True };
        if (Field(component, "alpha_pattern") is { ValueKind: JsonValueKind.Object } patterns)
        {
            foreach (var p in patterns.EnumerateObject())
                if (p.Value.ValueKind == JsonValueKind.Number && PatternMatches(p.Name, modulePath))
                    return (p.Value.GetDouble(), rs);
        }
        return Field(component, "lora_alpha") is { ValueKind: JsonValueKind.Number } a ? (a.GetDouble(), rs) : (null, rs);
    }

    private JsonElement? Field(string component, string name)
    {
        if (_fields.TryGetValue(component + "." + name, out var v)) return v;
        if (_fields.TryGetValue(component, out var nested) && nested.ValueKind == JsonValueKind.Object && nested.TryGetProperty(name, out var n)) return n;
        if (_fields.TryGetValue(name, out var plain)) return plain;
        return null;
    }

    /// <summary>Longest <c>alpha_pattern</c> key accepted (PEFT's are module names: tens of characters).</summary>
    public const int MaxPatternLength = 1000;

    private readonly Dictionary<string, Regex?> _patterns = new(StringComparer.Ordinal);

    /// <summary>
    /// PEFT's rule: the pattern matches the whole name or a dotted suffix of it. The regex runs on .NET's
    /// non-backtracking engine, whose cost is linear in the name's length whatever the pattern (a nested quantifier
    /// cannot stall inspection or time out); a pattern it cannot run (back-references, look-arounds) or that is not a
    /// valid regex is compared as a literal module name.
    /// </summary>
    private bool PatternMatches(string pattern, string modulePath)
    {
        if (!_patterns.TryGetValue(pattern, out var regex))
        {
            if (pattern.Length > MaxPatternLength)
                throw new LoraFormatException($"{_source}: __metadata__ '{MetadataKey}': alpha_pattern key of {pattern.Length} characters (more than {MaxPatternLength}): '{pattern[..40]}...'.");
            try
            {
                regex = new Regex($@"^(?:.*\.)?(?:{pattern})$", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException)
            {
                regex = null;
            }
            _patterns[pattern] = regex;
        }
        return regex?.IsMatch(modulePath)
            ?? (modulePath == pattern || modulePath.EndsWith("." + pattern, StringComparison.Ordinal));
    }
}
