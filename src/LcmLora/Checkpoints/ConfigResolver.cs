using System.Globalization;
using System.Text.Json.Nodes;
using LcmLora.Models;
using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;

namespace LcmLora.Checkpoints;

/// <summary>
/// Settles a component's config from three sources, like diffusers' <c>from_single_file(config=...)</c>: fields the
/// tensor shapes determine, a user-supplied config.json, and the family's defaults for what shapes leave open. A field
/// the shapes determine that a supplied config contradicts is a conflict (reported, never silently overridden).
/// </summary>
internal static class ConfigResolver
{
    /// <summary>The settled config: the report, the typed config when complete, and a config good enough to build the
    /// module on the meta device for a header-only mapping check (open fields that do not change shapes filled in).</summary>
    public sealed record Resolution(ComponentConfigReport Report, object? Config, object? ShapeConfig);

    private static readonly Dictionary<ModelComponent, string[]> Required = new()
    {
        [ModelComponent.Unet] = ["attention_head_dim", "cross_attention_dim", "norm_num_groups"],
        [ModelComponent.TextEncoder] = ["num_attention_heads", "hidden_act"],
        [ModelComponent.TextEncoder2] = ["num_attention_heads", "hidden_act"],
        [ModelComponent.Vae] = ["scaling_factor", "norm_num_groups"],
    };

    // Open fields that do not change any parameter shape: a placeholder lets the mapping be checked without them.
    private static readonly Dictionary<ModelComponent, Dictionary<string, JsonNode>> ShapeNeutral = new()
    {
        [ModelComponent.Unet] = new() { ["attention_head_dim"] = 1, ["norm_num_groups"] = 1, ["addition_time_embed_dim"] = 2, ["cross_attention_dim"] = 1 },
        [ModelComponent.TextEncoder] = new() { ["num_attention_heads"] = 1, ["hidden_act"] = "gelu" },
        [ModelComponent.TextEncoder2] = new() { ["num_attention_heads"] = 1, ["hidden_act"] = "gelu" },
        [ModelComponent.Vae] = new() { ["norm_num_groups"] = 1, ["scaling_factor"] = 1.0 },
    };

    private static readonly string[] DepthFields = ["transformer_layers_per_block", "reverse_transformer_layers_per_block"];

    public static Resolution Resolve(ModelComponent component, ModelFamily family, JsonObject? inferred, JsonObject? supplied, string source)
    {
        var merged = new JsonObject();
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        void Put(string key, JsonNode? value, string from)
        {
            merged[key] = value?.DeepClone();
            sources[key] = from;
        }
        if (family.Defaults.TryGetValue(component, out var defaults))
            foreach (var (key, value) in defaults) Put(key, ToNode(value), ComponentConfigReport.FromFamily);
        if (supplied is not null)
            foreach (var (key, value) in supplied) Put(key, value, ComponentConfigReport.FromConfig);
        var conflicts = inferred is null || supplied is null ? [] : Conflicts(component, family, inferred, supplied, source);
        if (inferred is not null)
            foreach (var (key, value) in inferred) Put(key, value, ComponentConfigReport.FromShapes);
        ApplyHeadRules(component, family, merged, sources);

        var missing = Required[component].Where(f => merged[f] is null && !(f == "cross_attention_dim" && !HasAttention(merged))).ToList();
        if (component == ModelComponent.Unet && merged["addition_embed_type"] is not null && merged["addition_time_embed_dim"] is null)
            missing.Add("addition_time_embed_dim");
        string? problem = conflicts.Count > 0
            ? $"{source}: {component.Name()} config conflicts with the tensor shapes: {string.Join("; ", conflicts)}."
            : null;
        object? config = null;
        if (problem is null && missing.Count == 0)
        {
            try { config = Build(component, merged, source); }
            catch (LcmLoraInputException e) { problem = e.Message; }
        }
        return new Resolution(new ComponentConfigReport(component.Name(), merged, sources, missing, problem), config, config ?? ShapeOnly(component, merged, source));
    }

    /// <summary>A config with the shape-neutral open fields replaced by placeholders, or null when even that cannot be built.</summary>
    private static object? ShapeOnly(ModelComponent component, JsonObject merged, string source)
    {
        var placeholder = (JsonObject)merged.DeepClone();
        foreach (var (field, value) in ShapeNeutral[component])
            if (field != "cross_attention_dim" || placeholder[field] is null) placeholder[field] = value.DeepClone();
        if (placeholder["addition_embed_type"] is null) placeholder.Remove("addition_time_embed_dim");
        try { return Build(component, placeholder, source); }
        catch (LcmLoraInputException) { return null; }
    }

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        int i => JsonValue.Create(i),
        double d => JsonValue.Create(d),
        bool b => JsonValue.Create(b),
        string s => JsonValue.Create(s),
        _ => throw new ArgumentException($"Unsupported default value type {value.GetType().Name}.", nameof(value)),
    };

    private static bool HasAttention(JsonObject unet) =>
        unet["down_block_types"] is JsonArray types && types.Any(t => t?.GetValue<string>() == UNetConfig.CrossAttnDownBlock);

    private static object Build(ModelComponent component, JsonObject merged, string source)
    {
        var json = DiffusersConfigJson.FromObject(source, merged);
        return component switch
        {
            ModelComponent.Unet => UNetConfig.FromJson(json),
            ModelComponent.Vae => VaeConfig.FromJson(json),
            _ => ClipTextConfig.FromJson(json),
        };
    }

    /// <summary>Open head counts from the family's rule: a fixed count (SD 1.x) or channels / head width (SDXL, CLIP).</summary>
    private static void ApplyHeadRules(ModelComponent component, ModelFamily family, JsonObject merged, Dictionary<string, string> sources)
    {
        if (component == ModelComponent.Unet && merged["attention_head_dim"] is null && merged["block_out_channels"] is JsonArray channels)
        {
            var levels = channels.Select(c => c!.GetValue<int>()).ToList();
            JsonNode? heads = family.UNetHeads is { } fixedHeads ? fixedHeads
                : family.UNetHeadWidth is { } width && levels.All(c => c % width == 0) ? new JsonArray(levels.Select(c => (JsonNode?)(c / width)).ToArray())
                : null;
            if (heads is not null)
            {
                merged["attention_head_dim"] = heads;
                sources["attention_head_dim"] = ComponentConfigReport.FromFamily;
            }
        }
        if (component is ModelComponent.TextEncoder or ModelComponent.TextEncoder2 && merged["num_attention_heads"] is null
            && merged["hidden_size"] is JsonValue hidden && hidden.GetValue<int>() % ModelFamily.ClipHeadWidth == 0)
        {
            merged["num_attention_heads"] = hidden.GetValue<int>() / ModelFamily.ClipHeadWidth;
            sources["num_attention_heads"] = ComponentConfigReport.FromFamily;
        }
    }

    private static List<string> Conflicts(ModelComponent component, ModelFamily family, JsonObject inferred, JsonObject supplied, string source)
    {
        var conflicts = new List<string>();
        foreach (var (key, value) in inferred)
        {
            if (DepthFields.Contains(key) || !supplied.TryGetPropertyValue(key, out var given) || given is null && value is null) continue;
            if (key == "architectures" || key == "projection_dim") continue; // compared through HasProjection below
            if (!Equivalent(value, given)) conflicts.Add($"'{key}' is {Show(value)} in the file but {Show(given)} in the config");
        }
        if (component is ModelComponent.TextEncoder or ModelComponent.TextEncoder2 && inferred["projection_dim"] is { } projection
            && supplied["projection_dim"] is { } givenProjection && !Equivalent(projection, givenProjection))
            conflicts.Add($"'projection_dim' is {Show(projection)} in the file but {Show(givenProjection)} in the config");
        if (component == ModelComponent.Unet && DepthFields.Any(f => supplied[f] is not null) && conflicts.Count == 0)
            conflicts.AddRange(DepthConflicts(family, inferred, supplied, source));
        return conflicts;
    }

    /// <summary>Transformer depths compared where they matter: at blocks with attention (diffusers writes 1 elsewhere).</summary>
    private static IEnumerable<string> DepthConflicts(ModelFamily family, JsonObject inferred, JsonObject supplied, string source)
    {
        var withConfigDepths = (JsonObject)inferred.DeepClone();
        foreach (var f in DepthFields) withConfigDepths[f] = supplied[f]?.DeepClone();
        if (ShapeOnly(ModelComponent.Unet, WithDefaults(family, inferred), source) is not UNetConfig fromFile)
            return ["the file's transformer depths cannot be read"];
        if (ShapeOnly(ModelComponent.Unet, WithDefaults(family, withConfigDepths), source) is not UNetConfig fromConfig)
            return ["the config's transformer_layers_per_block / reverse_transformer_layers_per_block do not fit the file's blocks"];
        var problems = new List<string>();
        var n = fromFile.Levels;
        for (var i = 0; i < n; i++)
        {
            if (fromFile.DownBlockTypes[i] == UNetConfig.CrossAttnDownBlock && !fromFile.TransformerLayersPerBlock[i].SequenceEqual(fromConfig.TransformerLayersPerBlock[i]))
                problems.Add($"down block {i} has transformer depths [{string.Join(", ", fromFile.TransformerLayersPerBlock[i])}] in the file but " +
                    $"[{string.Join(", ", fromConfig.TransformerLayersPerBlock[i])}] in the config");
            if (fromFile.UpBlockTypes[i] == UNetConfig.CrossAttnUpBlock && !fromFile.ReverseTransformerLayersPerBlock[i].SequenceEqual(fromConfig.ReverseTransformerLayersPerBlock[i]))
                problems.Add($"up block {i} has transformer depths [{string.Join(", ", fromFile.ReverseTransformerLayersPerBlock[i])}] in the file but " +
                    $"[{string.Join(", ", fromConfig.ReverseTransformerLayersPerBlock[i])}] in the config");
        }
        if (fromFile.MidBlockType == UNetConfig.CrossAttnMidBlock && fromFile.TransformerLayersPerBlock[^1][0] != fromConfig.TransformerLayersPerBlock[^1][0])
            problems.Add($"the mid block has {fromFile.TransformerLayersPerBlock[^1][0]} transformer blocks in the file but {fromConfig.TransformerLayersPerBlock[^1][0]} in the config");
        return problems;
    }

    private static JsonObject WithDefaults(ModelFamily family, JsonObject fields)
    {
        var merged = new JsonObject();
        foreach (var (key, value) in family.Defaults[ModelComponent.Unet]) merged[key] = ToNode(value);
        foreach (var (key, value) in fields) merged[key] = value?.DeepClone();
        return merged;
    }

    /// <summary>JSON equality where a number equals a list repeating it (diffusers' per-block shorthand) and 1 equals 1.0.</summary>
    internal static bool Equivalent(JsonNode? a, JsonNode? b)
    {
        if (a is JsonArray la && b is JsonArray lb) return la.Count == lb.Count && la.Zip(lb).All(p => Equivalent(p.First, p.Second));
        if (a is JsonArray list && b is JsonValue) return list.All(x => Equivalent(x, b));
        if (b is JsonArray && a is JsonValue) return Equivalent(b, a);
        if (a is JsonValue va && b is JsonValue vb)
        {
            var (sa, sb) = (va.ToJsonString(), vb.ToJsonString());
            if (double.TryParse(sa, NumberStyles.Float, CultureInfo.InvariantCulture, out var da)
                && double.TryParse(sb, NumberStyles.Float, CultureInfo.InvariantCulture, out var db)) return da == db;
            return sa == sb;
        }
        return a is null && b is null;
    }

    private static string Show(JsonNode? node) => node?.ToJsonString() ?? "null";

    /// <summary>Reads a config.json into an object (for the resolver's supplied config).</summary>
    public static JsonObject ReadObject(string path) => DiffusersConfigJson.Load(path).ToObject();
}
