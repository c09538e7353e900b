using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// A declarative table from each of our parameter names to where it lives in a checkpoint, plus which
/// checkpoint keys belong to the component (so keys nobody consumes can be reported). Built forward from the
/// module's own parameter names, never by parsing incoming keys.
/// </summary>
/// <param name="Entries">Our parameter name to checkpoint reference.</param>
/// <param name="OwnsKey">True for checkpoint keys that belong to this component.</param>
/// <param name="IgnorableKey">True for keys released files carry that no module uses (position_ids, logit_scale).</param>
internal sealed record WeightMap(
    IReadOnlyDictionary<string, TensorRef> Entries,
    Func<string, bool> OwnsKey,
    Func<string, bool> IgnorableKey)
{
    /// <summary>The identity map over <paramref name="names"/> with an optional key prefix (diffusers layout).</summary>
    public static WeightMap Identity(IEnumerable<string> names, string prefix = "") =>
        new(names.ToDictionary(n => n, n => new TensorRef(prefix + n), StringComparer.Ordinal),
            k => k.StartsWith(prefix, StringComparison.Ordinal),
            IsCommonlyIgnorable);

    /// <summary>Keys that released checkpoints carry but no module uses.</summary>
    public static bool IsCommonlyIgnorable(string key) =>
        key.EndsWith("position_ids", StringComparison.Ordinal) || key.EndsWith("logit_scale", StringComparison.Ordinal);

    /// <summary>Our parameter names and shapes, read from a module (works on the meta device: no weights).</summary>
    public static IReadOnlyDictionary<string, long[]> ShapesOf(torch.nn.Module module) =>
        module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
}

/// <summary>How well a checkpoint maps onto one of our components.</summary>
/// <param name="Component">Component name (unet, text_encoder, text_encoder_2, vae).</param>
/// <param name="Parameters">Number of scalar parameters in our module.</param>
/// <param name="Missing">Our parameters whose key the checkpoint lacks.</param>
/// <param name="Unexpected">Checkpoint keys of this component that nothing consumes (ignorable keys excluded).</param>
/// <param name="ShapeMismatches">Descriptions of entries whose stored shape differs from ours.</param>
public sealed record MappingReport(
    string Component,
    long Parameters,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> ShapeMismatches)
{
    /// <summary>True when every parameter maps, shapes agree and no key is left over.</summary>
    public bool IsComplete => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0;

    /// <summary>Compares our shapes with a checkpoint through a map, reading headers only.</summary>
    internal static MappingReport Build(string component, IReadOnlyDictionary<string, long[]> ours, WeightMap map, CheckpointTensors source)
    {
        var missing = new List<string>();
        var mismatches = new List<string>();
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shape) in ours)
        {
            if (!map.Entries.TryGetValue(name, out var r) || !source.Contains(r.Key))
            {
                missing.Add(map.Entries.TryGetValue(name, out var r2) ? r2.Key : name);
                continue;
            }
            consumed.Add(r.Key);
            var stored = source.ShapeOf(r);
            if (!stored.SequenceEqual(shape))
                mismatches.Add($"{r}: checkpoint [{string.Join(", ", stored)}], model [{string.Join(", ", shape)}]");
        }
        var unexpected = source.Keys.Where(k => map.OwnsKey(k) && !consumed.Contains(k) && !map.IgnorableKey(k)).Order(StringComparer.Ordinal).ToList();
        long count = ours.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b));
        return new MappingReport(component, count, missing, unexpected, mismatches);
    }
}

/// <summary>A checkpoint does not map onto a model: keys are missing or unexpected, or shapes differ.</summary>
public sealed class CheckpointMappingException : LcmLoraInputException
{
    /// <summary>Creates the exception from a report.</summary>
    public CheckpointMappingException(string source, MappingReport report) : base(Format(source, report)) => Report = report;

    /// <summary>What did not map.</summary>
    public MappingReport Report { get; }

    private static string Format(string source, MappingReport r)
    {
        static string List(IReadOnlyList<string> items) => string.Join(", ", items.Take(20)) + (items.Count > 20 ? $", ... ({items.Count} in all)" : "");
        var parts = new List<string>();
        if (r.Missing.Count > 0) parts.Add($"{r.Missing.Count} missing keys: {List(r.Missing)}");
        if (r.Unexpected.Count > 0) parts.Add($"{r.Unexpected.Count} unexpected keys: {List(r.Unexpected)}");
        if (r.ShapeMismatches.Count > 0) parts.Add($"{r.ShapeMismatches.Count} shape mismatches: {List(r.ShapeMismatches)}");
        return $"{source}: {r.Component} does not match the model config: {string.Join("; ", parts)}.";
    }
}
