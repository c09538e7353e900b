using System.Text.RegularExpressions;
using LcmLora.Checkpoints;

namespace LcmLora.Lora;

/// <summary>The naming scheme under which a LoRA module key was recognized.</summary>
public enum LoraNamingScheme
{
    /// <summary>kohya with diffusers / Hugging Face module paths: <c>lora_unet_down_blocks_0_resnets_0_conv1</c>, <c>lora_te1_text_model_...</c>.</summary>
    Kohya,
    /// <summary>kohya with original SGM UNet paths: <c>lora_unet_input_blocks_1_0_in_layers_2</c>.</summary>
    KohyaSgm,
    /// <summary>LyCORIS with the <c>lycoris_</c> prefix (SimpleTuner): <c>lycoris_down_blocks_0_...</c>.</summary>
    Lycoris,
    /// <summary>PEFT / diffusers: <c>unet.&lt;path&gt;</c>, <c>text_encoder.&lt;path&gt;</c>, <c>text_encoder_2.&lt;path&gt;</c>.</summary>
    Peft,
    /// <summary>PEFT without a component prefix (a UNet-only adapter saved from the model).</summary>
    PeftUnprefixed,
    /// <summary>diffusers before PEFT: <c>...attn1.processor.to_q_lora</c>, <c>&lt;path&gt;.lora</c>, <c>&lt;path&gt;.lora_linear_layer</c>.</summary>
    DiffusersLegacy,
}

/// <summary>One of our parameters that a LoRA module adapts.</summary>
/// <param name="Component">The component (see <see cref="LoraComponents"/>).</param>
/// <param name="Parameter">Our parameter name, e.g. <c>down_blocks.0.resnets.0.conv1.weight</c>.</param>
/// <param name="Scheme">The naming scheme the LoRA key was written in.</param>
internal sealed record LoraTarget(string Component, string Parameter, LoraNamingScheme Scheme)
{
    /// <summary><c>component.parameter</c>.</summary>
    public override string ToString() => Component + "." + Parameter;
}

/// <summary>
/// The forward map from LoRA module keys to our parameters: every weight of every component (any parameter named
/// <c>*.weight</c> with two or more dimensions) is rendered into every supported naming scheme, and LoRA keys are looked up
/// in the result. Incoming keys are never split at underscores, so names such as <c>transformer_blocks</c>,
/// <c>to_out_0</c> or <c>time_emb_proj</c> need no special cases.
/// </summary>
internal sealed class LoraNameMap
{
    private readonly Dictionary<string, LoraTarget?> _map = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyDictionary<string, long[]>> _shapes = new(StringComparer.Ordinal);

    /// <summary>Builds the map.</summary>
    /// <param name="components">For each component (see <see cref="LoraComponents"/>), our parameter names and shapes.</param>
    /// <param name="unetLayersPerBlock">The UNet's layers_per_block for SGM names; inferred from the names when null
    /// (number of <c>down_blocks.0.resnets.*</c>).</param>
    public LoraNameMap(IReadOnlyDictionary<string, IReadOnlyDictionary<string, long[]>> components, int? unetLayersPerBlock = null)
    {
        foreach (var (component, parameters) in components)
        {
            LoraComponents.Validate(component);
            _shapes[component] = parameters;
            var sgm = component == LoraComponents.UNet ? SgmNamesFor(parameters.Keys, unetLayersPerBlock) : null;
            foreach (var (name, shape) in parameters)
            {
                if (shape.Length < 2 || !name.EndsWith(".weight", StringComparison.Ordinal)) continue;
                var module = name[..^".weight".Length];
                foreach (var (scheme, key) in Render(component, module, sgm))
                    Add(key, new LoraTarget(component, name, scheme));
            }
        }
    }

    /// <summary>Number of distinct renderings.</summary>
    public int Count => _map.Count;

    /// <summary>Components the map covers.</summary>
    public IEnumerable<string> Components => _shapes.Keys;

    /// <summary>Renderings that two of our parameters share (never resolved).</summary>
    public IReadOnlyCollection<string> AmbiguousKeys => _map.Where(kv => kv.Value == null).Select(kv => kv.Key).ToList();

    /// <summary>Looks up a LoRA module key. False when nothing renders to it or when it is ambiguous.</summary>
    public bool TryResolve(string moduleKey, out LoraTarget target)
    {
        if (_map.TryGetValue(moduleKey, out var t) && t != null)
        {
            target = t;
            return true;
        }
        target = null!;
        return false;
    }

    /// <summary>Our shape of a target's parameter.</summary>
    public long[] ShapeOf(LoraTarget target) => _shapes[target.Component][target.Parameter];

    private void Add(string key, LoraTarget target)
    {
        if (_map.TryGetValue(key, out var existing))
        {
            if (existing != null && (existing.Component != target.Component || existing.Parameter != target.Parameter)) _map[key] = null;
            return;
        }
        _map[key] = target;
    }

    private static UNetSgmNames? SgmNamesFor(IEnumerable<string> names, int? layersPerBlock)
    {
        var list = names.ToList();
        var layers = layersPerBlock ?? list
            .Select(n => Regex.Match(n, @"^down_blocks\.0\.resnets\.(\d+)\."))
            .Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 1)
            .DefaultIfEmpty(0).Max();
        return layers > 0 ? new UNetSgmNames(list, layers) : null;
    }

    private static string Underscored(string path) => path.Replace('.', '_');

    private static readonly Regex UNetAttentionProjection = new(@"^(?<attn>.+)\.(?<p>to_q|to_k|to_v|to_out\.0)$", RegexOptions.Compiled | RegexOptions.CultureInvariant);
    private static readonly Regex ClipAttentionProjection = new(@"^(?<attn>.+\.self_attn)\.(?<p>q|k|v|out)_proj$", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>Every key a LoRA may use for our module <paramref name="module"/> of <paramref name="component"/>.</summary>
    internal static IEnumerable<(LoraNamingScheme, string)> Render(string component, string module, UNetSgmNames? sgm)
    {
        if (component == LoraComponents.UNet)
        {
            yield return (LoraNamingScheme.Kohya, "lora_unet_" + Underscored(module));
            if (sgm?.Module(module) is { } sgmPath && sgmPath != module)
                yield return (LoraNamingScheme.KohyaSgm, "lora_unet_" + Underscored(sgmPath));
            yield return (LoraNamingScheme.Lycoris, "lycoris_" + Underscored(module));
            yield return (LoraNamingScheme.Peft, "unet." + module);
            yield return (LoraNamingScheme.PeftUnprefixed, module);
            foreach (var legacy in UNetLegacy(module))
            {
                yield return (LoraNamingScheme.DiffusersLegacy, "unet." + legacy);
                yield return (LoraNamingScheme.DiffusersLegacy, legacy);
            }
            yield break;
        }
        var (kohya, peft) = component == LoraComponents.TextEncoder ? ("lora_te1_", "text_encoder.") : ("lora_te2_", "text_encoder_2.");
        yield return (LoraNamingScheme.Kohya, kohya + Underscored(module));
        if (component == LoraComponents.TextEncoder) yield return (LoraNamingScheme.Kohya, "lora_te_" + Underscored(module));
        yield return (LoraNamingScheme.Peft, peft + module);
        yield return (LoraNamingScheme.DiffusersLegacy, peft + module + ".lora_linear_layer");
        var m = ClipAttentionProjection.Match(module);
        if (m.Success) yield return (LoraNamingScheme.DiffusersLegacy, $"{peft}{m.Groups["attn"].Value}.to_{m.Groups["p"].Value}_lora");
    }

    private static IEnumerable<string> UNetLegacy(string module)
    {
        yield return module + ".lora";
        var m = UNetAttentionProjection.Match(module);
        if (!m.Success) yield break;
        var projection = m.Groups["p"].Value == "to_out.0" ? "to_out" : m.Groups["p"].Value;
        yield return $"{m.Groups["attn"].Value}.processor.{projection}_lora";
        yield return $"{m.Groups["attn"].Value}.{projection}_lora";
    }
}
