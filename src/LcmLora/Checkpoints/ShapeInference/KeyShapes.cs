using System.Text.RegularExpressions;

namespace LcmLora.Checkpoints.ShapeInference;

/// <summary>The keys and shapes under one prefix of a checkpoint, from its header: what shape inference reads.</summary>
internal sealed class KeyShapes
{
    private readonly Dictionary<string, long[]> _shapes;

    public KeyShapes(CheckpointTensors source, string prefix)
        : this(source.Describe(), prefix, source.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(k => k[prefix.Length..], k => source.Info(k).Shape, StringComparer.Ordinal))
    {
    }

    /// <summary>Shapes under names of the caller's choosing (keys renamed into the layout inference reads).</summary>
    public KeyShapes(string source, string prefix, Dictionary<string, long[]> shapes)
    {
        Source = source;
        Prefix = prefix;
        _shapes = shapes;
    }

    /// <summary>The file, for messages.</summary>
    public string Source { get; }

    /// <summary>The prefix the keys were taken under.</summary>
    public string Prefix { get; }

    /// <summary>Whether any key exists.</summary>
    public bool Any => _shapes.Count > 0;

    public bool Has(string key) => _shapes.ContainsKey(key);

    /// <summary>The shape of a key that must exist.</summary>
    public long[] Shape(string key) => _shapes.TryGetValue(key, out var s) ? s
        : throw new LcmLoraInputException($"{Source}: '{Prefix}{key}' is missing; the architecture cannot be read from the shapes without it.");

    /// <summary>One dimension of a key that must exist, as an int.</summary>
    public int Dim(string key, int index)
    {
        var s = Shape(key);
        return index < s.Length ? checked((int)s[index])
            : throw new LcmLoraInputException($"{Source}: '{Prefix}{key}' has shape [{string.Join(", ", s)}]; expected at least {index + 1} dimensions.");
    }

    /// <summary>The distinct integers N of keys matching <c>^{head}(\d+)\.</c>, ascending.</summary>
    public IReadOnlyList<int> Indices(string head)
    {
        var pattern = new Regex("^" + Regex.Escape(head) + @"(\d+)\.", RegexOptions.CultureInvariant);
        return _shapes.Keys.Select(k => pattern.Match(k)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).Distinct().Order().ToList();
    }

    /// <summary>The first key ending with <paramref name="suffix"/> (ordinal order), or null.</summary>
    public string? FirstEndingWith(string suffix) => _shapes.Keys.Where(k => k.EndsWith(suffix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).FirstOrDefault();
}
