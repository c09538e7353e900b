namespace LcmLora.Lora;

/// <summary>What to do with LoRA keys that match nothing or do not fit.</summary>
public enum LoraMatchMode
{
    /// <summary>Lenient when every key carries a known component prefix (<c>lora_unet_</c>, <c>lora_te1_</c>,
    /// <c>unet.</c>, ...), strict otherwise.</summary>
    Auto,
    /// <summary>Apply what matches, report the rest.</summary>
    Lenient,
    /// <summary>Throw <see cref="LoraMismatchException"/> on any unmatched key, shape mismatch or malformed module.</summary>
    Strict,
}

/// <summary>A LoRA module and the parameter it adapts.</summary>
/// <param name="Module">The module in the file.</param>
/// <param name="Target">Our parameter.</param>
internal sealed record LoraMatch(LoraModule Module, LoraTarget Target);

/// <summary>How one component fared against one LoRA file.</summary>
/// <param name="Component">The component (<c>unet</c>, <c>text_encoder</c>, <c>text_encoder_2</c>), or <c>(unknown)</c> for keys with no known prefix.</param>
/// <param name="ModulesInFile">Modules of the file addressed to this component.</param>
/// <param name="Matched">How many of them matched a parameter with a fitting shape.</param>
/// <param name="UnmatchedKeys">Module keys (or unrecognized tensor keys) that address nothing we have.</param>
/// <param name="ShapeMismatches">Modules whose key matched but whose delta does not fit the weight.</param>
/// <param name="Problems">Malformed modules and duplicates.</param>
/// <param name="Schemes">How many matched modules used each naming scheme.</param>
public sealed record LoraReport(
    string Component,
    int ModulesInFile,
    int Matched,
    IReadOnlyList<string> UnmatchedKeys,
    IReadOnlyList<string> ShapeMismatches,
    IReadOnlyList<string> Problems,
    IReadOnlyDictionary<LoraNamingScheme, int> Schemes)
{
    /// <summary>True when everything addressed to this component matched.</summary>
    public bool IsComplete => UnmatchedKeys.Count == 0 && ShapeMismatches.Count == 0 && Problems.Count == 0;

    /// <summary>E.g. <c>unet: 217/217 modules matched (Kohya 217)</c>.</summary>
    public override string ToString()
    {
        var schemes = string.Join(", ", Schemes.Select(kv => $"{kv.Key} {kv.Value}"));
        var text = $"{Component}: {Matched}/{ModulesInFile} modules matched" + (schemes.Length > 0 ? $" ({schemes})" : "");
        if (UnmatchedKeys.Count > 0) text += $"; {UnmatchedKeys.Count} unmatched: {Preview(UnmatchedKeys)}";
        if (ShapeMismatches.Count > 0) text += $"; {ShapeMismatches.Count} shape mismatches: {Preview(ShapeMismatches)}";
        if (Problems.Count > 0) text += $"; {Problems.Count} problems: {Preview(Problems)}";
        return text;
    }

    private static string Preview(IReadOnlyList<string> items) => string.Join(", ", items.Take(5)) + (items.Count > 5 ? ", ..." : "");
}

/// <summary>The outcome of matching one LoRA file against a model's components.</summary>
public sealed record LoraMatchResult
{
    internal LoraMatchResult(string source, LoraFormat format, LoraMatchMode mode, IReadOnlyList<LoraMatch> matches, IReadOnlyList<LoraReport> reports)
    {
        Source = source;
        Format = format;
        Mode = mode;
        Matches = matches;
        Reports = reports;
    }

    /// <summary>The LoRA file.</summary>
    public string Source { get; }

    /// <summary>Its detected format (key style, UNet naming, algorithms, components addressed).</summary>
    public LoraFormat Format { get; }

    /// <summary>The mode applied (never <see cref="LoraMatchMode.Auto"/>).</summary>
    public LoraMatchMode Mode { get; }

    /// <summary>Modules that will be applied, in file order.</summary>
    internal IReadOnlyList<LoraMatch> Matches { get; }

    /// <summary>One report per component involved (the model's and those the file addresses), with the matched and unmatched modules.</summary>
    public IReadOnlyList<LoraReport> Reports { get; }

    /// <summary>Modules that matched a parameter with a fitting shape, over all components.</summary>
    public int MatchedModules => Matches.Count;

    /// <summary>True when every key of the file matched.</summary>
    public bool IsComplete => Reports.All(r => r.IsComplete);

    /// <summary>All reports, one per line.</summary>
    public override string ToString() => $"{Source} [{Format}]" + Environment.NewLine + string.Join(Environment.NewLine, Reports);
}

/// <summary>Matches the modules of a LoRA file to our parameters through a <see cref="LoraNameMap"/>.</summary>
internal static class LoraMatcher
{
    /// <summary>Matches, checks shapes (headers only) and applies the mode's policy.</summary>
    /// <exception cref="LoraMismatchException">Strict mode and something did not match; or nothing matched at all.</exception>
    public static LoraMatchResult Match(LoraFile file, LoraNameMap map, LoraMatchMode mode = LoraMatchMode.Auto)
    {
        var acc = new Dictionary<string, Accumulator>(StringComparer.Ordinal);
        Accumulator For(string component) => acc.TryGetValue(component, out var a) ? a : acc[component] = new Accumulator();
        foreach (var c in map.Components) For(c);

        var matches = new List<LoraMatch>();
        var taken = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var module in file.Modules)
        {
            var resolved = map.TryResolve(module.Key, out var target);
            var component = resolved ? target.Component : LoraComponents.OfKey(module.Key) ?? LoraComponents.Unknown;
            var a = For(component);
            a.Modules++;
            if (module.Problem != null) a.Problems.Add($"{module.Key}: {module.Problem}");
            else if (!resolved) a.Unmatched.Add(module.Key + (map.Components.Contains(component) || component == LoraComponents.Unknown ? "" : " (component not loaded)"));
            else if (!module.Fits(map.ShapeOf(target)))
                a.Shapes.Add($"{module.Key}: LoRA {module.ShapeText} (delta [{string.Join(", ", module.DeltaShape)}]) vs {target} [{string.Join(", ", map.ShapeOf(target))}]");
            else if (!taken.TryAdd(target.ToString(), module.Key))
                a.Problems.Add($"{module.Key}: adapts {target} again (already adapted by '{taken[target.ToString()]}'); skipped");
            else
            {
                matches.Add(new LoraMatch(module, target));
                a.Schemes[target.Scheme] = a.Schemes.GetValueOrDefault(target.Scheme) + 1;
            }
        }
        foreach (var key in file.UnrecognizedKeys)
            For(LoraComponents.OfKey(key) ?? LoraComponents.Unknown).Unmatched.Add(key + " (unrecognized tensor suffix)");

        var knownPrefixes = file.Modules.All(m => LoraComponents.OfKey(m.Key) != null) && file.UnrecognizedKeys.All(k => LoraComponents.OfKey(k) != null);
        var applied = mode == LoraMatchMode.Auto ? (knownPrefixes ? LoraMatchMode.Lenient : LoraMatchMode.Strict) : mode;
        var reports = acc.Where(kv => kv.Value.Modules > 0 || kv.Value.Unmatched.Count > 0 || map.Components.Contains(kv.Key))
            .Select(kv => kv.Value.ToReport(kv.Key)).ToList();
        var result = new LoraMatchResult(file.Source, file.Format, applied, matches, reports);
        if (matches.Count == 0)
            throw new LoraMismatchException($"{file.Source}: no module of this LoRA ({file.Format}) matches the model." + Environment.NewLine + result, result);
        if (applied == LoraMatchMode.Strict && !result.IsComplete)
            throw new LoraMismatchException($"{file.Source}: the LoRA does not fully match the model (strict mode)." + Environment.NewLine + result, result);
        return result;
    }

    private sealed class Accumulator
    {
        public int Modules;
        public readonly List<string> Unmatched = [];
        public readonly List<string> Shapes = [];
        public readonly List<string> Problems = [];
        public readonly Dictionary<LoraNamingScheme, int> Schemes = [];

        public LoraReport ToReport(string component) =>
            new(component, Modules, Schemes.Values.Sum(), Unmatched, Shapes, Problems, Schemes);
    }
}
