using TorchSharp;

namespace LcmLora.Lora;

/// <summary>
/// A LoRA loaded into a <see cref="LoraAdapterSet"/>: its matched modules with their factors held in memory, in
/// float32 on the CPU and already shaped for fusion (twice the size of an fp16 file: about 790 MB for the rank-64
/// SDXL LCM-LoRA), so changing the adapter weight never re-reads the file.
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    private readonly List<(LoraMatch Match, Dictionary<LoraTensorRole, torch.Tensor> Factors)> _modules = [];

    private LoraAdapter(string name, double weight, LoraMatchResult match)
    {
        Name = name;
        Weight = weight;
        Match = match;
    }

    /// <summary>The adapter's name in its set.</summary>
    public string Name { get; }

    /// <summary>The multiplier of this adapter's deltas (1.0 = as trained).</summary>
    public double Weight { get; internal set; }

    /// <summary>What matched, per component.</summary>
    public LoraMatchResult Match { get; }

    /// <summary>The per-component reports.</summary>
    public IReadOnlyList<LoraReport> Reports => Match.Reports;

    /// <summary>Number of modules that will be applied.</summary>
    public int ModuleCount => _modules.Count;

    internal IReadOnlyList<(LoraMatch Match, Dictionary<LoraTensorRole, torch.Tensor> Factors)> Modules => _modules;

    /// <summary>Reads the factors of every matched module and checks that each is finite.</summary>
    /// <exception cref="LoraFormatException">A factor or alpha holds NaN or infinity.</exception>
    internal static LoraAdapter Load(string name, double weight, LoraFile file, LoraMatchResult match)
    {
        if (!file.HasData) throw new InvalidOperationException($"{file.Source}: a header-only LoRA description cannot be loaded as an adapter.");
        var adapter = new LoraAdapter(name, weight, match);
        try
        {
            foreach (var m in match.Matches)
            {
                if (m.Module.Alpha is { } alpha && !double.IsFinite(alpha))
                    throw new LoraFormatException($"{file.Source}: alpha of '{m.Module.Key}' is {alpha}.");
                var factors = LoraDeltaMath.Prepare(m.Module, role => file.Read(m.Module.TensorKeys[role]));
                adapter._modules.Add((m, factors));
                foreach (var (role, t) in factors)
                {
                    if (!LoraDeltaMath.AllFinite(t))
                        throw new LoraFormatException($"{file.Source}: the {role} factor of '{m.Module.Key}' holds NaN or infinity.");
                }
            }
            return adapter;
        }
        catch
        {
            adapter.Dispose();
            throw;
        }
    }

    /// <summary>Frees the factor tensors.</summary>
    public void Dispose()
    {
        foreach (var (_, factors) in _modules)
            foreach (var t in factors.Values) t.Dispose();
        _modules.Clear();
    }
}
