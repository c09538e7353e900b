using LcmLora.IO;
using TorchSharp;

namespace LcmLora.Lora;

/// <summary>
/// A LoRA file, its format detected from the keys: kohya (<c>lora_unet_</c>, <c>lora_te1_</c>, <c>lora_te2_</c>,
/// <c>lora_te_</c>; SGM or diffusers UNet names), PEFT (<c>unet.&lt;path&gt;.lora_A.weight</c>; alpha from the
/// <c>lora_adapter_metadata</c> header entry, else alpha = rank), diffusers legacy (<c>processor.to_q_lora</c>,
/// <c>.lora.down</c>, <c>lora_linear_layer</c>), LoCon with optional Tucker core, LyCORIS LoHa and LoKr, DoRA.
/// Opening reads the header and the scalar alphas; factor tensors are read on demand from the memory mapping.
/// </summary>
internal sealed class LoraFile : IDisposable
{
    private readonly SafeTensorsFile? _file;

    private LoraFile(string source, SafeTensorsFile? file, IEnumerable<(string Key, long[] Shape)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Source = source;
        _file = file;
        Metadata = metadata;
        var peft = PeftAdapterMetadata.From(metadata, source);
        var groups = new Dictionary<string, (Dictionary<LoraTensorRole, string> Keys, Dictionary<LoraTensorRole, long[]> Shapes, HashSet<SuffixFamily> Families)>(StringComparer.Ordinal);
        var order = new List<string>();
        var unrecognized = new List<string>();
        foreach (var (key, shape) in tensors)
        {
            if (!LoraKeySuffixes.TrySplit(key, out var moduleKey, out var role, out var family))
            {
                unrecognized.Add(key);
                continue;
            }
            if (!groups.TryGetValue(moduleKey, out var g))
            {
                g = (new(), new(), new());
                groups[moduleKey] = g;
                order.Add(moduleKey);
            }
            if (!g.Keys.TryAdd(role, key))
                throw new LoraFormatException($"{source}: module '{moduleKey}' has two {role} tensors ('{g.Keys[role]}' and '{key}').");
            g.Shapes[role] = shape;
            g.Families.Add(family);
        }
        Modules = order.Select(k =>
        {
            var g = groups[k];
            var (alpha, rs) = ResolveAlpha(k, g.Keys, g.Families, peft);
            return new LoraModule(k, g.Keys, g.Shapes, g.Families, alpha, rs);
        }).ToList();
        UnrecognizedKeys = unrecognized;
        if (Modules.Count == 0)
            throw new LoraFormatException($"{source}: no LoRA tensors found (expected keys ending in .lora_down.weight, .lora_A.weight, .hada_w1_a, .lokr_w1, ...; " +
                $"first keys: {string.Join(", ", unrecognized.Take(5))}).");
        Format = LoraFormat.Detect(Modules);
    }

    /// <summary>The file path (or the description given to <see cref="FromHeader"/>).</summary>
    public string Source { get; }

    /// <summary>The detected format.</summary>
    public LoraFormat Format { get; }

    /// <summary>The adapted modules in header order.</summary>
    public IReadOnlyList<LoraModule> Modules { get; }

    /// <summary>Keys that end in no known LoRA suffix (e.g. <c>.diff</c>, <c>.on_input</c>); they are reported, never applied.</summary>
    public IReadOnlyList<string> UnrecognizedKeys { get; }

    /// <summary>The header's <c>__metadata__</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>False for a header-only description (<see cref="FromHeader"/>): tensors cannot be read.</summary>
    public bool HasData => _file != null;

    /// <summary>Opens a LoRA safetensors file and detects its format.</summary>
    /// <exception cref="SafeTensorsFormatException">The file is not a valid safetensors file.</exception>
    /// <exception cref="LoraFormatException">It holds no LoRA tensors, or a module is stored twice.</exception>
    public static LoraFile Open(string path)
    {
        var file = SafeTensorsFile.Open(path);
        try
        {
            return new LoraFile(path, file, file.Tensors.Select(t => (t.Name, t.Shape)), file.Metadata);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Describes a LoRA from its keys and shapes alone (e.g. a manifest of a file too large to have here), for
    /// matching and reporting. Alphas from <c>.alpha</c> tensors are unknown; nothing can be fused from it.
    /// </summary>
    public static LoraFile FromHeader(string source, IEnumerable<(string Key, long[] Shape)> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        new(source, null, tensors, metadata ?? new Dictionary<string, string>());

    /// <summary>Reads one tensor in its stored dtype (float8 is widened to float32), on the CPU.</summary>
    /// <exception cref="InvalidOperationException">The file was described by <see cref="FromHeader"/>.</exception>
    public torch.Tensor Read(string tensorKey)
    {
        if (_file == null) throw new InvalidOperationException($"{Source}: a header-only LoRA description has no tensor data.");
        return _file.Read(tensorKey);
    }

    private (double? Alpha, bool RsLora) ResolveAlpha(string moduleKey, Dictionary<LoraTensorRole, string> keys, HashSet<SuffixFamily> families, PeftAdapterMetadata? peft)
    {
        if (keys.TryGetValue(LoraTensorRole.Alpha, out var alphaKey))
        {
            if (_file == null) return (null, false);
            var info = _file.Info(alphaKey);
            if (info.ElementCount != 1)
                throw new LoraFormatException($"{Source}: '{alphaKey}' must hold one value, found shape {info.ShapeText}.");
            using var t = _file.Read(alphaKey, torch.ScalarType.Float64);
            return (t.item<double>(), false);
        }
        if (peft == null || !families.Contains(SuffixFamily.Peft)) return (null, false);
        var component = LoraComponents.OfKey(moduleKey);
        var path = component == null ? moduleKey : moduleKey[(moduleKey.IndexOf('.') + 1)..];
        return peft.AlphaFor(component ?? LoraComponents.UNet, path);
    }

    /// <summary>Unmaps the file. Tensors already read stay valid.</summary>
    public void Dispose() => _file?.Dispose();
}
