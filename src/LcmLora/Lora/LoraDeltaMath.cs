using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Lora;

/// <summary>
/// Weight deltas from LoRA factors, in float32. Factors are prepared once when an adapter is loaded (widened to
/// float32; low-rank pairs flattened to matrices with any Tucker core folded into down), so fusing a plain LoRA or
/// LoCon module is a single in-place <c>addmm</c> into the float32 weight: one matrix product, the scale applied by
/// BLAS, no delta tensor. Callers own a dispose scope: every temporary made here is registered in it.
/// </summary>
internal static class LoraDeltaMath
{
    /// <summary>The float32 factors fusion needs, read through <paramref name="read"/> (tensors as stored).</summary>
    public static Dictionary<LoraTensorRole, Tensor> Prepare(LoraModule module, Func<LoraTensorRole, Tensor> read)
    {
        using var scope = NewDisposeScope();
        Tensor F(LoraTensorRole role) => read(role).to(ScalarType.Float32);
        var prepared = new Dictionary<LoraTensorRole, Tensor>();
        if (module.Algorithm == LoraAlgorithm.LowRank)
        {
            var down = F(LoraTensorRole.Down);
            var a = down.reshape(down.shape[0], -1);
            if (module.Has(LoraTensorRole.Mid))
            {
                // Fold the Tucker core into down: down'[m, i, h, w] = sum_d mid[m, d, h, w] * down[d, i].
                var mid = F(LoraTensorRole.Mid);
                a = einsum("mdhw,di->mihw", mid, a).reshape(mid.shape[0], -1);
            }
            var up = F(LoraTensorRole.Up);
            prepared[LoraTensorRole.Down] = a.contiguous();
            prepared[LoraTensorRole.Up] = up.reshape(up.shape[0], -1).contiguous();
        }
        else
        {
            foreach (var role in module.TensorKeys.Keys.Where(r => r is not (LoraTensorRole.Alpha or LoraTensorRole.DoraScale)))
                prepared[role] = F(role).contiguous();
        }
        if (module.HasDora) prepared[LoraTensorRole.DoraScale] = F(LoraTensorRole.DoraScale).contiguous();
        foreach (var t in prepared.Values) t.MoveToOuterDisposeScope();
        return prepared;
    }

    /// <summary>
    /// Adds <c>factor x delta(module)</c> to the float32 weight <paramref name="acc"/> (in place for plain low-rank
    /// modules) or, for DoRA, returns the renormalized weight (a new tensor).
    /// </summary>
    public static Tensor Accumulate(LoraModule module, IReadOnlyDictionary<LoraTensorRole, Tensor> prepared, double factor, Tensor acc)
    {
        var device = acc.device;
        Tensor F(LoraTensorRole role) => prepared[role].device == device ? prepared[role] : prepared[role].to(device);
        if (module.Algorithm == LoraAlgorithm.LowRank && !module.HasDora)
        {
            acc.view(acc.shape[0], -1).addmm_(F(LoraTensorRole.Up), F(LoraTensorRole.Down), beta: 1, alpha: (float)factor);
            return acc;
        }
        var delta = Delta(module, F, factor).reshape(acc.shape);
        if (module.HasDora) return Dora(acc, delta, F(LoraTensorRole.DoraScale));
        acc.add_(delta);
        return acc;
    }

    /// <summary>
    /// True when every element is finite. A finite sum proves it (any NaN or infinity makes the sum non-finite) and
    /// costs a tenth of an element-wise test, which runs only when the sum is not finite (NaN, infinity, overflow).
    /// </summary>
    public static bool AllFinite(Tensor t)
    {
        using (var sum = t.sum())
        using (var wide = sum.to(ScalarType.Float64))
            if (double.IsFinite(wide.item<double>())) return true;
        using var finite = isfinite(t).all();
        return finite.item<bool>();
    }

    /// <summary><c>factor x delta(module)</c> as the factors shape it (reshape onto the weight before use).</summary>
    public static Tensor Delta(LoraModule module, Func<LoraTensorRole, Tensor> f, double factor) => module.Algorithm switch
    {
        LoraAlgorithm.LoHa => LoHa(module, f, factor),
        LoraAlgorithm.LoKr => LoKr(module, f, factor),
        _ => f(LoraTensorRole.Up).mul(factor).mm(f(LoraTensorRole.Down)),
    };

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
