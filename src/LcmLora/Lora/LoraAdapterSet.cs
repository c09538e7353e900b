using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Lora;

/// <summary>
/// Several LoRA adapters fused into live model weights with their own weights, e.g. LCM-LoRA at 1.0 plus a style
/// LoRA at 0.8, without training. Components are described by their named parameters (our names = diffusers /
/// transformers names); the tensors are the live parameters, edited in place.
/// </summary>
/// <remarks>
/// <para>Fusing computes, per touched weight and in one pass over all adapters,
/// <c>W' = W + sum_i weight_i * scale_i * delta_i</c> in float32 (<c>scale = alpha / rank</c>, deltas from one
/// matrix product per low-rank pair; DoRA adapters renormalize the running weight as PEFT merges them, in the order
/// the adapters were added) and casts the sum once to the weight's dtype. Every fused value is checked for NaN and
/// infinity before it is written; if one is not finite, every weight already written is restored bit for bit and
/// <see cref="LoraNonFiniteException"/> is thrown, so the model is unchanged.</para>
/// <para>With <c>keepOriginals</c> (default) the set keeps a copy of each touched weight (only touched ones) and
/// <see cref="Unfuse"/> restores it by copy, bit for bit, however many times it is repeated. Changing an adapter's
/// weight, adding or removing an adapter while fused unfuses and fuses again from those copies (never from the
/// LoRA file: factors stay in memory). Without <c>keepOriginals</c> no copies are kept (half the memory at full
/// size), every fused value is computed and checked once before anything is written and once more to write it,
/// and the fusion is permanent: unfusing or changing the set while fused throws.</para>
/// <para>With a <see cref="OriginalWeightReader"/> instead, nothing is copied either: originals are read back from
/// the memory-mapped checkpoint the model was loaded from (the same bytes, converted the same way, so the restore is
/// bit for bit) — the full-size choice, since copies of every touched weight would add most of the UNet's size.</para>
/// <para>Not thread-safe; do not run the model while fusing.</para>
/// </remarks>
public sealed class LoraAdapterSet : IDisposable
{
    private readonly Dictionary<string, IReadOnlyDictionary<string, Tensor>> _components = new(StringComparer.Ordinal);
    private readonly LoraNameMap _map;
    private readonly List<LoraAdapter> _adapters = [];
    private readonly Dictionary<(string Component, string Parameter), Tensor?> _originals = [];
    private readonly OriginalWeightReader? _reload;
    private List<(string Component, string Parameter)> _fused = [];

    /// <summary>Creates an empty set over live parameters.</summary>
    /// <param name="components">Per component (see <see cref="LoraComponents"/>), our parameter names to the live tensors.</param>
    /// <param name="keepOriginals">Keep a copy of each touched weight so fusion can be undone exactly.</param>
    /// <param name="unetLayersPerBlock">The UNet's layers_per_block for SGM-named LoRAs (inferred when null).</param>
    /// <param name="reloadOriginal">Reads an original weight back (from the mapped checkpoint) instead of keeping copies.</param>
    internal LoraAdapterSet(IReadOnlyDictionary<string, IReadOnlyDictionary<string, Tensor>> components, bool keepOriginals = true, int? unetLayersPerBlock = null,
        OriginalWeightReader? reloadOriginal = null)
    {
        foreach (var (c, p) in components) _components[c] = p;
        KeepsOriginals = keepOriginals || reloadOriginal is not null;
        _reload = reloadOriginal;
        _map = new LoraNameMap(_components.ToDictionary(kv => kv.Key,
            kv => (IReadOnlyDictionary<string, long[]>)kv.Value.ToDictionary(p => p.Key, p => p.Value.shape, StringComparer.Ordinal)), unetLayersPerBlock);
    }

    /// <summary>A set over modules' <c>named_parameters()</c> (the live parameters).</summary>
    /// <param name="modules">Per component, the module whose parameters are fused into.</param>
    /// <param name="keepOriginals">Keep a copy of each touched weight so fusion can be undone exactly.</param>
    /// <param name="reloadOriginal">Reads an original weight back (from the mapped checkpoint) instead of keeping copies.</param>
    internal static LoraAdapterSet FromModules(IReadOnlyDictionary<string, nn.Module> modules, bool keepOriginals = true, OriginalWeightReader? reloadOriginal = null) =>
        new(modules.ToDictionary(kv => kv.Key,
            kv => (IReadOnlyDictionary<string, Tensor>)kv.Value.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter, StringComparer.Ordinal)),
            keepOriginals, reloadOriginal: reloadOriginal);

    /// <summary>Whether originals are kept (fusion can be undone).</summary>
    public bool KeepsOriginals { get; }

    /// <summary>The adapters in the order they were added (the order DoRA adapters are applied in).</summary>
    public IReadOnlyList<LoraAdapter> Adapters => _adapters;

    /// <summary>The adapter called <paramref name="name"/>.</summary>
    public LoraAdapter this[string name] => Find(name) ?? throw new KeyNotFoundException($"No adapter named '{name}'.");

    /// <summary>Whether the adapters are currently fused into the weights.</summary>
    public bool IsFused { get; private set; }

    /// <summary>The parameters the last <see cref="Fuse"/> wrote, per component, in the order written.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> FusedParameters =>
        _fused.GroupBy(t => t.Component).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(t => t.Parameter).ToList(), StringComparer.Ordinal);

    /// <summary>Every adapter's per-component reports.</summary>
    public IEnumerable<(string Adapter, LoraReport Report)> Reports => _adapters.SelectMany(a => a.Reports.Select(r => (a.Name, r)));

    /// <summary>Matches a LoRA file and loads its factors. If the set is fused it is re-fused with the new adapter.</summary>
    /// <param name="name">A name unique in this set.</param>
    /// <param name="file">The LoRA; it may be disposed afterwards (factors are copied into memory).</param>
    /// <param name="weight">The adapter weight (multiplies alpha / rank).</param>
    /// <param name="mode">What to do with keys that do not match.</param>
    /// <exception cref="LoraMismatchException">Strict mode and a key did not match, or nothing matched.</exception>
    /// <exception cref="LoraFormatException">A factor holds NaN or infinity.</exception>
    internal LoraAdapter Add(string name, LoraFile file, double weight = 1.0, LoraMatchMode mode = LoraMatchMode.Auto)
    {
        if (Find(name) != null) throw new ArgumentException($"An adapter named '{name}' is already in the set.", nameof(name));
        CheckWeight(name, weight);
        var adapter = LoraAdapter.Load(name, weight, file, LoraMatcher.Match(file, _map, mode));
        try
        {
            Change(() => _adapters.Add(adapter), () => _adapters.Remove(adapter));
        }
        catch
        {
            adapter.Dispose();
            throw;
        }
        return adapter;
    }

    /// <summary>Matches the LoRA file at <paramref name="path"/> and loads its factors (the file is closed afterwards). If the set is
    /// fused it is re-fused with the new adapter.</summary>
    /// <param name="name">A name unique in this set.</param>
    /// <param name="path">The LoRA <c>.safetensors</c> file (any supported format).</param>
    /// <param name="weight">The adapter weight (multiplies alpha / rank).</param>
    /// <param name="mode">What to do with keys that do not match.</param>
    /// <exception cref="LoraMismatchException">Strict mode and a key did not match, or nothing matched.</exception>
    /// <exception cref="LoraFormatException">Not a LoRA file, or a factor holds NaN or infinity.</exception>
    public LoraAdapter Add(string name, string path, double weight = 1.0, LoraMatchMode mode = LoraMatchMode.Auto)
    {
        using var file = LoraFile.Open(path);
        return Add(name, file, weight, mode);
    }

    /// <summary>Removes an adapter (re-fusing the rest when fused). False when there is none by that name.</summary>
    public bool Remove(string name)
    {
        var adapter = Find(name);
        if (adapter == null) return false;
        var index = _adapters.IndexOf(adapter);
        Change(() => _adapters.RemoveAt(index), () => _adapters.Insert(index, adapter));
        adapter.Dispose();
        return true;
    }

    /// <summary>Changes an adapter's weight. When fused, the set is unfused and fused again with the new weight.</summary>
    public void SetWeight(string name, double weight)
    {
        var adapter = this[name];
        CheckWeight(name, weight);
        var previous = adapter.Weight;
        Change(() => adapter.Weight = weight, () => adapter.Weight = previous);
    }

    /// <summary>Fuses every adapter with a non-zero weight into the weights.</summary>
    /// <exception cref="InvalidOperationException">Already fused.</exception>
    /// <exception cref="LoraNonFiniteException">A fused value would be NaN or infinite; nothing was changed.</exception>
    /// <param name="cancellationToken">Checked before each weight; a cancelled fuse changes nothing.</param>
    /// <exception cref="OperationCanceledException">Cancelled; nothing was changed.</exception>
    public void Fuse(CancellationToken cancellationToken = default)
    {
        if (IsFused) throw new InvalidOperationException("The adapters are already fused; call Unfuse first (or SetWeight, which re-fuses).");
        var plan = BuildPlan();
        using var noGrad = no_grad();
        if (KeepsOriginals) FuseKeepingOriginals(plan, cancellationToken);
        else FuseWithoutOriginals(plan, cancellationToken);
        _fused = plan.Select(p => (p.Component, p.Parameter)).ToList();
        IsFused = true;
    }

    /// <summary>Restores every touched weight from its saved original, bit for bit. Does nothing when not fused.</summary>
    /// <exception cref="InvalidOperationException">The set keeps no originals.</exception>
    public void Unfuse()
    {
        if (!IsFused) return;
        if (!KeepsOriginals) throw new InvalidOperationException("This set keeps no original weights (keepOriginals: false), so fusion cannot be undone.");
        using (no_grad())
        {
            foreach (var ((component, parameter), original) in _originals)
                Restore(component, parameter, original);
        }
        _originals.Clear();
        _fused = [];
        IsFused = false;
    }

    /// <summary>Frees adapters and saved originals. The weights are left as they are (fused or not).</summary>
    public void Dispose()
    {
        foreach (var a in _adapters) a.Dispose();
        _adapters.Clear();
        foreach (var t in _originals.Values) t?.Dispose();
        _originals.Clear();
    }

    /// <summary>Puts one original weight back: from its copy, or read again from the checkpoint.</summary>
    private void Restore(string component, string parameter, Tensor? original)
    {
        var live = _components[component][parameter];
        if (original is null)
        {
            using var reloaded = _reload!(component, parameter);
            if (!reloaded.shape.SequenceEqual(live.shape))
                throw new InvalidOperationException($"Reloading {component}.{parameter}: shape [{string.Join(", ", reloaded.shape)}] differs from the model's.");
            IO.ReducedFloatCopy.Copy(live, reloaded);
        }
        else
        {
            live.copy_(original);
            original.Dispose();
        }
    }

    private LoraAdapter? Find(string name) => _adapters.FirstOrDefault(a => a.Name == name);

    private static void CheckWeight(string name, double weight)
    {
        if (!double.IsFinite(weight)) throw new LcmLoraInputException($"Adapter '{name}': weight must be a finite number, got {weight}.");
    }

    /// <summary>
    /// Applies a change to the adapters. When fused: unfuses, changes, fuses again; if that fusion fails, the change
    /// is undone and the previous state fused again before the exception propagates.
    /// </summary>
    private void Change(Action change, Action undo)
    {
        if (!IsFused)
        {
            change();
            return;
        }
        if (!KeepsOriginals)
            throw new InvalidOperationException("The set is fused without kept originals (keepOriginals: false), so its adapters cannot change.");
        Unfuse();
        change();
        try
        {
            Fuse();
        }
        catch
        {
            undo();
            Fuse();
            throw;
        }
    }

    private sealed record PlanItem(string Component, string Parameter, Tensor Live, List<(LoraAdapter Adapter, LoraMatch Match, Dictionary<LoraTensorRole, Tensor> Factors)> Parts);

    private List<PlanItem> BuildPlan()
    {
        var byTarget = new Dictionary<(string, string), PlanItem>();
        var plan = new List<PlanItem>();
        foreach (var adapter in _adapters)
        {
            if (adapter.Weight == 0) continue;
            foreach (var (match, factors) in adapter.Modules)
            {
                var key = (match.Target.Component, match.Target.Parameter);
                if (!byTarget.TryGetValue(key, out var item))
                {
                    item = new PlanItem(key.Component, key.Parameter, _components[key.Component][key.Parameter], []);
                    byTarget[key] = item;
                    plan.Add(item);
                }
                item.Parts.Add((adapter, match, factors));
            }
        }
        return plan;
    }

    /// <summary>Adds every contribution to the float32 <paramref name="acc"/>; returns the result (acc itself unless DoRA).</summary>
    private static Tensor Accumulate(PlanItem item, Tensor acc)
    {
        foreach (var (adapter, match, factors) in item.Parts)
            acc = LoraDeltaMath.Accumulate(match.Module, factors, match.Module.Scale * adapter.Weight, acc);
        return acc;
    }

    /// <summary>A contiguous float32 weight is accumulated into directly; anything else through a float32 copy.</summary>
    private static bool InPlace(Tensor live) => live.dtype == ScalarType.Float32 && live.is_contiguous();

    private static void EnsureFinite(PlanItem item, Tensor value)
    {
        if (!LoraDeltaMath.AllFinite(value))
            throw new LoraNonFiniteException(
                $"Fusing {string.Join(" + ", item.Parts.Select(p => $"'{p.Adapter.Name}' (weight {p.Adapter.Weight})"))} into {item.Component}.{item.Parameter} " +
                "gives NaN or infinite values; nothing was changed.");
    }

    /// <summary>
    /// Writes each fused weight after saving its original: a float32 weight is accumulated in place (no extra copy),
    /// others through a float32 copy cast back once. The written value is checked; on any failure every weight
    /// written so far, this one included, is restored from its original.
    /// </summary>
    private void FuseKeepingOriginals(List<PlanItem> plan, CancellationToken cancellationToken)
    {
        var written = new List<(PlanItem Item, Tensor? Original)>(plan.Count);
        try
        {
            foreach (var item in plan)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var live = item.Live;
                written.Add((item, _reload is null ? live.detach().clone().MoveToOuterDisposeScope() : null));
                var acc = Accumulate(item, InPlace(live) ? live : live.to(ScalarType.Float32, copy: true));
                if (!ReferenceEquals(acc, live)) live.copy_(acc);
                EnsureFinite(item, live);
            }
        }
        catch
        {
            foreach (var (item, original) in written) Restore(item.Component, item.Parameter, original);
            throw;
        }
        foreach (var (item, original) in written) _originals[(item.Component, item.Parameter)] = original;
    }

    /// <summary>Computes and checks every fused weight without writing, then computes again and writes (only the
    /// check pass can be cancelled, so a cancelled fuse changes nothing).</summary>
    private static void FuseWithoutOriginals(List<PlanItem> plan, CancellationToken cancellationToken)
    {
        foreach (var item in plan)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var acc = Accumulate(item, item.Live.detach().to(ScalarType.Float32, copy: true));
            EnsureFinite(item, item.Live.dtype == ScalarType.Float32 ? acc : acc.to(item.Live.dtype));
        }
        foreach (var item in plan)
        {
            using var scope = NewDisposeScope();
            var live = item.Live;
            var acc = Accumulate(item, InPlace(live) ? live : live.to(ScalarType.Float32, copy: true));
            if (!ReferenceEquals(acc, live)) live.copy_(acc);
        }
    }
}

/// <summary>
/// Reads the original (unfused) value of one weight, e.g. from the mapped checkpoint: the live weight's shape, any
/// floating type (it is copied into the live weight with <c>copy_</c>, which converts). The set disposes the returned
/// tensor right after the copy, so it may be a view of a reused buffer.
/// </summary>
/// <param name="component">unet, text_encoder or text_encoder_2.</param>
/// <param name="parameter">Our parameter name.</param>
internal delegate Tensor OriginalWeightReader(string component, string parameter);
