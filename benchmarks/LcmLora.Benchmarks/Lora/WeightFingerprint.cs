using TorchSharp;

namespace LcmLora.Benchmarks.Lora;

/// <summary>
/// A per-parameter fingerprint of a module's weights: a position-dependent hash of the raw bytes and the sum of the
/// values (float64). Any changed bit changes the hash; used to check that unfusing restores bit for bit without
/// keeping a second copy of a 10 GB UNet.
/// </summary>
public static class WeightFingerprint
{
    /// <summary>Fingerprints every parameter of <paramref name="module"/>.</summary>
    public static Dictionary<string, (long Bits, double Sum)> Of(torch.nn.Module module)
    {
        using var _ = torch.no_grad();
        var result = new Dictionary<string, (long, double)>(StringComparer.Ordinal);
        foreach (var (name, p) in module.named_parameters())
        {
            using var scope = torch.NewDisposeScope();
            var contiguous = p.contiguous();
            var sum = contiguous.sum(type: torch.ScalarType.Float64).item<double>();
            result[name] = (Hash(contiguous.bytes), sum);
        }
        return result;
    }

    private static long Hash(ReadOnlySpan<byte> bytes)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(bytes);
        ulong h = 1469598103934665603UL;
        for (var i = 0; i < words.Length; i++) h = (h ^ words[i]) * 1099511628211UL + (ulong)i;
        for (var i = words.Length * 8; i < bytes.Length; i++) h = (h ^ bytes[i]) * 1099511628211UL;
        return (long)h;
    }

    /// <summary>Names whose fingerprints differ.</summary>
    public static List<string> Differences(Dictionary<string, (long Bits, double Sum)> before, Dictionary<string, (long Bits, double Sum)> after) =>
        before.Where(kv => !after.TryGetValue(kv.Key, out var a) || a.Bits != kv.Value.Bits || !a.Sum.Equals(kv.Value.Sum))
            .Select(kv => kv.Key).ToList();
}
