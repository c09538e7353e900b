using System.Diagnostics;
using System.Globalization;
using LcmLora.Benchmarks.Setup;
using TorchSharp;

namespace LcmLora.Benchmarks.Flops;

/// <summary>
/// <c>breakdown unet|vae|text [BATCH]</c>: replays every distinct op shape of a full-size forward pass in isolation
/// (random operands, same shapes, same torch calls: conv2d, linear, scaled_dot_product_attention), times each and
/// multiplies by how often it occurs. The sum is the time the matrix products alone need on this machine; each
/// row's GFLOP/s against the sgemm rate shows which ops run far from the ceiling. Compare the sum with the
/// benchmark's measured time: the difference is everything not counted (norms, activations, copies).
/// </summary>
public static class OpBreakdown
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] args)
    {
        var what = args.Length > 1 ? args[1] : "unet";
        var batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
        BenchModels.Init();
        var ops = what switch
        {
            "unet" => WorkOps.Of(Work.UNetStep, BenchModels.Full, batch),
            "vae" => WorkOps.Of(Work.VaeDecode, BenchModels.Full),
            "text" => WorkOps.Of(Work.TextEncoders, BenchModels.Full),
            _ => throw new ArgumentException($"breakdown: unknown '{what}' (unet, vae, text)"),
        };
        var sgemm = Time(new LinearOp("mm", 4096, 4096, 4096));
        var sgemmRate = 2.0 * 4096 * 4096 * 4096 / sgemm / 1e9;
        Console.WriteLine($"{what} (batch {batch}), {BenchModels.Threads} threads; sgemm 4096: {sgemmRate:0.0} GFLOP/s");
        var rows = ops.GroupBy(o => o.ShapeKey).Select(g =>
        {
            var seconds = Time(g.First());
            return (Key: g.Key, Kind: g.First().Kind, Count: g.Count(), Flops: g.Sum(o => o.Flops), Seconds: seconds * g.Count());
        }).OrderByDescending(r => r.Seconds).ToList();
        var total = rows.Sum(r => r.Seconds);
        var totalFlops = rows.Sum(r => r.Flops);
        Console.WriteLine($"{"op shape",-52} {"count",5} {"GFLOP",9} {"time s",8} {"share",6} {"GFLOP/s",8} {"of sgemm",8}");
        foreach (var r in rows)
            Console.WriteLine($"{r.Key,-52} {r.Count,5} {r.Flops / 1e9,9:0.0} {r.Seconds,8:0.000} {r.Seconds / total,6:0.0%} " +
                $"{r.Flops / r.Seconds / 1e9,8:0.0} {r.Flops / r.Seconds / 1e9 / sgemmRate,8:0.00}");
        foreach (var kind in Enum.GetValues<OpKind>())
        {
            var k = rows.Where(r => r.Kind == kind).ToList();
            if (k.Count == 0) continue;
            Console.WriteLine($"{kind,-12}: {k.Sum(r => r.Seconds),8:0.000} s for {k.Sum(r => r.Flops) / 1e12:0.0000} TFLOP = {k.Sum(r => r.Flops) / k.Sum(r => r.Seconds) / 1e9:0.0} GFLOP/s");
        }
        Console.WriteLine($"{"all counted",-12}: {total,8:0.000} s for {totalFlops / 1e12:0.0000} TFLOP = {totalFlops / total / 1e9:0.0} GFLOP/s; " +
            $"sgemm floor {totalFlops / 1e9 / sgemmRate:0.000} s");
        return 0;
    }

    /// <summary>Seconds per call of one op (median of at least 3 timed calls after one untimed call).</summary>
    public static double Time(FlopOp op)
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        using var g = new torch.Generator(5);
        Action call = op switch
        {
            ConvOp c => ConvCall(c, g),
            LinearOp l => LinearCall(l, g),
            AttentionOp a => AttentionCall(a, g),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
        call();
        var times = new List<double>();
        var budget = Stopwatch.StartNew();
        while (times.Count < 3 || (budget.Elapsed.TotalSeconds < 0.5 && times.Count < 50))
        {
            var clock = Stopwatch.StartNew();
            call();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static Action ConvCall(ConvOp c, torch.Generator g)
    {
        var x = torch.randn([c.Batch, c.InChannels, c.Height, c.Width], generator: g);
        var w = torch.randn([c.OutChannels, c.InChannels, c.Kernel, c.Kernel], generator: g);
        var b = torch.zeros(c.OutChannels);
        long pad = c.Kernel / 2;
        return () =>
        {
            using var y = torch.nn.functional.conv2d(x, w, b, strides: [c.Stride, c.Stride], padding: [pad, pad]);
        };
    }

    private static Action LinearCall(LinearOp l, torch.Generator g)
    {
        var x = torch.randn([l.Tokens, l.In], generator: g);
        var w = torch.randn([l.Out, l.In], generator: g);
        var b = torch.zeros(l.Out);
        return () =>
        {
            using var y = torch.nn.functional.linear(x, w, b);
        };
    }

    private static Action AttentionCall(AttentionOp a, torch.Generator g)
    {
        var q = torch.randn([a.Batch, a.Heads, a.QueryTokens, a.HeadDim], generator: g);
        var k = torch.randn([a.Batch, a.Heads, a.KeyTokens, a.HeadDim], generator: g);
        var v = torch.randn([a.Batch, a.Heads, a.KeyTokens, a.HeadDim], generator: g);
        return () =>
        {
            using var y = torch.nn.functional.scaled_dot_product_attention(q, k, v);
        };
    }
}
