using LcmLora.Models;
using TorchSharp;

namespace LcmLora.Tests.Lora;

/// <summary>
/// A copy of every loaded weight of a pipeline's models, taken once and freed on disposal (a fused-and-unfused model
/// is compared against it with one second snapshot, not one per weight).
/// </summary>
internal sealed class WeightSnapshot : IDisposable
{
    private readonly Dictionary<string, torch.Tensor> _weights;

    private WeightSnapshot(Dictionary<string, torch.Tensor> weights) => _weights = weights;

    /// <summary>Copies the weights of every component <paramref name="include"/> accepts (default: all); unloaded (meta) tensors are skipped.</summary>
    public static WeightSnapshot Of(SdxlModels models, Func<string, bool>? include = null)
    {
        using var noGrad = torch.no_grad();
        return new(models.Components.Where(c => include?.Invoke(c.Key) ?? true)
            .SelectMany(c => c.Value.state_dict().Where(kv => kv.Value.device_type != DeviceType.META)
                .Select(kv => (Key: c.Key + "." + kv.Key, Value: kv.Value.detach().clone())))
            .ToDictionary(x => x.Key, x => x.Value));
    }

    /// <summary>The copies by <c>component.parameter</c>.</summary>
    public IReadOnlyDictionary<string, torch.Tensor> Weights => _weights;

    /// <summary>Asserts that <paramref name="other"/> holds the same keys with byte-identical values.</summary>
    public void AssertIdentical(WeightSnapshot other)
    {
        Xunit.Assert.Equal(_weights.Keys.Order(StringComparer.Ordinal), other._weights.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in _weights) TensorAssert.Identical(value, other._weights[key], key);
    }

    /// <summary>Frees the copies.</summary>
    public void Dispose()
    {
        foreach (var t in _weights.Values) t.Dispose();
        _weights.Clear();
    }
}
