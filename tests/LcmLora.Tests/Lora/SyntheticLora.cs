using LcmLora.IO;
using LcmLora.Lora;
using TorchSharp;

namespace LcmLora.Tests.Lora;

/// <summary>A small float array with a shape, row-major; used to write synthetic LoRA files and to compute
/// expected deltas with plain loops, independently of the library.</summary>
internal sealed class Arr(long[] shape, double[] data)
{
    public long[] Shape { get; } = shape;
    public double[] Data { get; } = data;

    public static Arr Random(int seed, params long[] shape)
    {
        var rng = new Random(seed);
        var n = shape.Aggregate(1L, (a, b) => a * b);
        // Values exactly representable in float32, so what is written equals what is computed with.
        return new Arr(shape, Enumerable.Range(0, (int)n).Select(_ => (double)(float)(rng.NextDouble() * 2 - 1)).ToArray());
    }

    public static Arr Zeros(params long[] shape) => new(shape, new double[shape.Aggregate(1L, (a, b) => a * b)]);

    private long Offset(long[] index)
    {
        long o = 0;
        for (var d = 0; d < Shape.Length; d++) o = o * Shape[d] + index[d];
        return o;
    }

    public double this[params long[] index]
    {
        get => Data[Offset(index)];
        set => Data[Offset(index)] = value;
    }

    public torch.Tensor ToTensor() => torch.tensor(Data.Select(v => (float)v).ToArray(), Shape);

    /// <summary>Element-wise a + s * b (same number of elements; result has this shape).</summary>
    public Arr AddScaled(Arr b, double s) => new(Shape, Data.Select((v, i) => v + s * b.Data[i]).ToArray());

    public Arr Reshape(params long[] shape) => new(shape, Data);

    /// <summary>[m, k] @ [k, n].</summary>
    public static Arr MatMul(Arr a, Arr b)
    {
        long m = a.Shape[0], k = a.Shape[1], n = b.Shape[1];
        var r = Zeros(m, n);
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
            {
                double s = 0;
                for (long q = 0; q < k; q++) s += a[i, q] * b[q, j];
                r[i, j] = s;
            }
        return r;
    }

    /// <summary>Kronecker product of [a, b] with [c, d] or [c, d, h, w] by explicit loops.</summary>
    public static Arr Kron(Arr w1, Arr w2)
    {
        long a = w1.Shape[0], b = w1.Shape[1], c = w2.Shape[0], d = w2.Shape[1];
        long kh = w2.Shape.Length > 2 ? w2.Shape[2] : 1, kw = w2.Shape.Length > 2 ? w2.Shape[3] : 1;
        var r = Zeros(a * c, b * d, kh, kw);
        var w2x = w2.Reshape(c, d, kh, kw);
        for (long i = 0; i < a; i++)
            for (long j = 0; j < b; j++)
                for (long k = 0; k < c; k++)
                    for (long l = 0; l < d; l++)
                        for (long h = 0; h < kh; h++)
                            for (long w = 0; w < kw; w++)
                                r[i * c + k, j * d + l, h, w] = w1[i, j] * w2x[k, l, h, w];
        return w2.Shape.Length > 2 ? r : r.Reshape(a * c, b * d);
    }

    /// <summary>Tucker rebuild: out[p, r, h, w] = sum_ij t[i, j, h, w] * wa[i, p] * wb[j, r].</summary>
    public static Arr Tucker(Arr t, Arr wa, Arr wb)
    {
        long p = wa.Shape[1], q = wb.Shape[1], kh = t.Shape[2], kw = t.Shape[3];
        var r = Zeros(p, q, kh, kw);
        for (long a = 0; a < p; a++)
            for (long b = 0; b < q; b++)
                for (long h = 0; h < kh; h++)
                    for (long w = 0; w < kw; w++)
                    {
                        double s = 0;
                        for (long i = 0; i < t.Shape[0]; i++)
                            for (long j = 0; j < t.Shape[1]; j++) s += t[i, j, h, w] * wa[i, a] * wb[j, b];
                        r[a, b, h, w] = s;
                    }
        return r;
    }

    public static Arr Hadamard(Arr a, Arr b) => new(a.Shape, a.Data.Select((v, i) => v * b.Data[i]).ToArray());
}

/// <summary>Writes synthetic LoRA files and builds a small synthetic model to fuse them into.</summary>
internal sealed class SyntheticLora : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lcmlora-lora-").FullName;
    private int _files;

    public const string ToQ = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight";
    public const string ToOut = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.weight";
    public const string Conv1 = "down_blocks.0.resnets.0.conv1.weight";
    public const string Shortcut = "down_blocks.0.resnets.0.conv_shortcut.weight";
    public const string TeQ = "text_model.encoder.layers.0.self_attn.q_proj.weight";
    public const string TeFc1 = "text_model.encoder.layers.0.mlp.fc1.weight";

    /// <summary>Original weights of the synthetic model (double, for expectations).</summary>
    public Dictionary<string, Arr> Weights { get; } = new()
    {
        ["unet." + ToQ] = Arr.Random(1, 6, 5),
        ["unet." + ToOut] = Arr.Random(2, 6, 6),
        ["unet." + Conv1] = Arr.Random(3, 4, 3, 3, 3),
        ["unet." + Shortcut] = Arr.Random(4, 4, 3, 1, 1),
        ["unet.down_blocks.0.resnets.0.norm1.weight"] = Arr.Random(5, 3),
        ["text_encoder." + TeQ] = Arr.Random(6, 5, 5),
        ["text_encoder." + TeFc1] = Arr.Random(7, 7, 5),
    };

    /// <summary>Live tensors of the synthetic model, per component.</summary>
    public Dictionary<string, Dictionary<string, torch.Tensor>> Model { get; }

    public SyntheticLora()
    {
        Model = Weights.GroupBy(kv => TinyLoraModel.SplitComponent(kv.Key).Component)
            .ToDictionary(g => g.Key, g => g.ToDictionary(kv => TinyLoraModel.SplitComponent(kv.Key).Name, kv => kv.Value.ToTensor()));
    }

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, torch.Tensor>> Components =>
        Model.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<string, torch.Tensor>)kv.Value);

    public torch.Tensor Live(string qualified)
    {
        var (c, n) = TinyLoraModel.SplitComponent(qualified);
        return Model[c][n];
    }

    /// <summary>Writes a LoRA file; scalars are written as shape [] tensors.</summary>
    public string Write(IEnumerable<(string Key, Arr Value)> tensors, Dictionary<string, string>? metadata = null)
    {
        var path = Path.Combine(_dir, $"lora{_files++}.safetensors");
        var list = tensors.Select(t => new KeyValuePair<string, torch.Tensor>(t.Key, t.Value.ToTensor())).ToList();
        SafeTensorsWriter.Save(path, list, metadata);
        foreach (var t in list) t.Value.Dispose();
        return path;
    }

    public static Arr Scalar(double v) => new([], [v]);

    public void Dispose()
    {
        foreach (var c in Model.Values)
            foreach (var t in c.Values) t.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
