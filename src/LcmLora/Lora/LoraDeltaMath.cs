using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Lora;

/// <summary>
/// Builds weight deltas from LoRA factors, in float32, with one matrix product per low-rank pair; the scale
/// (alpha/rank times adapter weight) is folded into the smallest factor so no extra pass over the delta is needed.
/// Callers own a dispose scope: every tensor made here is registered in it.
/// </summary>
internal static class LoraDeltaMath
{
    /// <summary>The delta <c>factor x raw(module)</c>, reshaped to <paramref name="weightShape"/>, float32 on <paramref name="device"/>.</summary>
    public static Tensor Delta(LoraModule module, IReadOnlyDictionary<LoraTensorRole, Tensor> factors, double factor, long[] weightShape, Device device)
    {
        Tensor F(LoraTensorRole role) => factors[role].to(ScalarType.Float32, device);
        var delta = module.Algorithm switch
        {
            LoraAlgorithm.LoHa => LoHa(module, F, factor),
            LoraAlgorithm.LoKr => LoKr(module, F, factor),
            _ => LowRank(module, F, factor),
        };
        return delta.reshape(weightShape);
    }

    private static Tensor LowRank(LoraModule m, Func<LoraTensorRole, Tensor> f, double factor)
    {
        var down = f(LoraTensorRole.Down);
        var up = f(LoraTensorRole.Up);
        var a = down.reshape(down.shape[0], -1);
        if (m.Has(LoraTensorRole.Mid))
        {
            // Fold the Tucker core into down: down'[m, i, h, w] = sum_d mid[m, d, h, w] * down[d, i].
            var mid = f(LoraTensorRole.Mid);
            a = einsum("mdhw,di->mihw", mid, a).reshape(mid.shape[0], -1);
        }
        var b = up.reshape(up.shape[0], -1).mul(factor);
        return b.mm(a);
    }

    private static Tensor LoHa(LoraModule m, Func<LoraTensorRole, Tensor> f, double factor)
    {
        Tensor Pair(LoraTensorRole aRole, LoraTensorRole bRole, LoraTensorRole tRole, double scale)
        {
            var wa = f(aRole);
            var wb = f(bRole);
            if (!m.Has(tRole)) return wa.mul(scale).mm(wb);
            // Tucker: out[p, r, h, w] = sum_ij t[i, j, h, w] * wa[i, p] * wb[j, r].
            return einsum("ijhw,ip,jr->prhw", f(tRole), wa.mul(scale), wb);
        }
        return Pair(LoraTensorRole.HadaW1A, LoraTensorRole.HadaW1B, LoraTensorRole.HadaT1, factor)
            .mul_(Pair(LoraTensorRole.HadaW2A, LoraTensorRole.HadaW2B, LoraTensorRole.HadaT2, 1.0));
    }

    private static Tensor LoKr(LoraModule m, Func<LoraTensorRole, Tensor> f, double factor)
    {
        var w1 = m.Has(LoraTensorRole.LokrW1) ? f(LoraTensorRole.LokrW1) : f(LoraTensorRole.LokrW1A).mm(f(LoraTensorRole.LokrW1B));
        Tensor w2;
        if (m.Has(LoraTensorRole.LokrW2)) w2 = f(LoraTensorRole.LokrW2);
        else if (m.Has(LoraTensorRole.LokrT2))
            w2 = einsum("ijhw,ip,jr->prhw", f(LoraTensorRole.LokrT2), f(LoraTensorRole.LokrW2A), f(LoraTensorRole.LokrW2B));
        else w2 = f(LoraTensorRole.LokrW2A).mm(f(LoraTensorRole.LokrW2B));
        return Kron(w1.mul(factor), w2);
    }

    /// <summary>Kronecker product of a matrix [a, b] with [c, d, ...]: [a*c, b*d, ...], by broadcasting.</summary>
    internal static Tensor Kron(Tensor w1, Tensor w2)
    {
        long a = w1.shape[0], b = w1.shape[1], c = w2.shape[0], d = w2.shape[1];
        var rest = w2.shape.Skip(2).ToArray();
        var left = w1.reshape([a, 1, b, 1, .. rest.Select(_ => 1L)]);
        var right = w2.reshape([1, c, 1, d, .. rest]);
        return left.mul(right).reshape([a * c, b * d, .. rest]);
    }

    /// <summary>
    /// DoRA, as PEFT merges it: <c>V = W + delta</c>, then each output row of V is rescaled to the stored magnitude,
    /// <c>W' = m / ||V||_row * V</c> (norm over every axis but the output one). A magnitude stored along the input axis
    /// (older LyCORIS, shape [1, in, ...]) normalizes columns instead. Returns a new float32 tensor.
    /// </summary>
    public static Tensor Dora(Tensor weight, Tensor delta, Tensor magnitude)
    {
        var v = weight.add(delta);
        long rows = v.shape[0], cols = v.shape[1];
        var ones = Enumerable.Repeat(1L, (int)v.dim() - 2).ToArray();
        bool outputAxis = magnitude.shape[0] == rows && magnitude.numel() == rows;
        if (outputAxis)
        {
            var norm = v.reshape(rows, -1).norm(1, keepdim: true).reshape([rows, 1, .. ones]);
            return v.mul(magnitude.reshape([rows, 1, .. ones]).div(norm));
        }
        var colNorm = v.transpose(0, 1).reshape(cols, -1).norm(1, keepdim: true).reshape([1, cols, .. ones]);
        return v.mul(magnitude.reshape([1, cols, .. ones]).div(colNorm));
    }
}
