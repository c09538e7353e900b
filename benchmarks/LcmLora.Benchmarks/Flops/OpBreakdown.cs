using System.Diagnostics;
using System.Globalization;
using LcmLora.Benchmarks.Setup;
using TorchSharp;

namespace LcmLora.Benchmarks.Flops;

/// <summary>
/// <c>breakdown unet|vae|text [BATCH] [DTYPES] [SIZE]</c>: replays every distinct op shape of a full-size forward pass in
/// isolation (random operands, same shapes, same torch calls: conv2d, linear, scaled_dot_product_attention), times each
/// and multiplies by how often it occurs. The sum is the time the matrix products alone need on this machine; each
/// row's GFLOP/s against the sgemm rate shows which ops run far from the ceiling. Compare the sum with the
/// benchmark's measured time: the difference is everything not counted (norms, activations, copies).
/// DTYPES (default fp32) is one dtype or two ("fp32,bf16"): with two, every row is timed in both, one after the
/// other in this process, and the second's time over the first's is printed per row and per op kind, which shows
/// the ops without a fast kernel in the second dtype. SIZE is the image side (default 512; the latents are SIZE/8).
/// </summary>
public static class OpBreakdown
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] args)
    {
        var what = args.Length > 1 ? args[1] : "unet";
        var batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
        var dtypes = (args.Length > 3 ? args[3] : "fp32").Split(',').Select(LcmLora.Runtime.ComputePrecisions.Parse)
            .Select(p => LcmLora.Runtime.ComputePrecisions.Choose(p).DType).ToArray();
        var size = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : BenchSizes.Image;
        BenchModels.Init();
        var work = what switch
        {
            "unet" => Work.UNetStep,
            "vae" => Work.VaeDecode,
            "text" => Work.TextEncoders,
            _ => throw new ArgumentException($"breakdown: unknown '{what}' (unet, vae, text)"),
        };
        var ops = WorkOps.Of(work, BenchModels.Full, batch, latent: size / 8);
        var mm = new LinearOp("mm", 4096, 4096, 4096);
        var rates = dtypes.Select(t => 2.0 * 4096 * 4096 * 4096 / Time(mm, t) / 1e9).ToArray();
        var names = dtypes.Select(LcmLora.Runtime.ComputePrecisions.ShortName).ToArray();
        Console.WriteLine($"{what} (batch {batch}, {size}x{size}), {BenchModels.Threads} threads; mm 4096: " +
            string.Join(", ", names.Zip(rates, (n, r) => $"{n} {r:0.0} GFLOP/s")));
        var rows = ops.GroupBy(o => o.ShapeKey).Select(g => (Key: g.Key, Kind: g.First().Kind, Count: g.Count(), Flops: g.Sum(o => o.Flops),
            Seconds: dtypes.Select(t => Time(g.First(), t) * g.Count()).ToArray())).OrderByDescending(r => r.Seconds[^1]).ToList();
        var header = $"{"op shape",-52} {"count",5} {"GFLOP",9}";
        foreach (var n in names) header += $" {n + " s",9} {"GFLOP/s",8} {"of mm",6}";
        if (dtypes.Length == 2) header += $" {names[1] + "/" + names[0],10}";
        Console.WriteLine(header);
        foreach (var r in rows)
            Console.WriteLine(Row(r.Key, r.Count, r.Flops, r.Seconds, rates));
        foreach (var kind in Enum.GetValues<OpKind>())
        {
            var k = rows.Where(r => r.Kind == kind).ToList();
            if (k.Count == 0) continue;
            Console.WriteLine(Row(kind.ToString(), k.Sum(r => r.Count), k.Sum(r => r.Flops),
                [.. Enumerable.Range(0, dtypes.Length).Select(i => k.Sum(r => r.Seconds[i]))], rates));
        }
        Console.WriteLine(Row("all counted", rows.Sum(r => r.Count), rows.Sum(r => r.Flops),
            [.. Enumerable.Range(0, dtypes.Length).Select(i => rows.Sum(r => r.Seconds[i]))], rates));
        return 0;
    }

    private static string Row(string key, int count, double flops, double[] seconds, double[] rates)
    {
        var line = $"{key,-52} {count,5} {flops / 1e9,9:0.0}";
        for (var i = 0; i < seconds.Length; i++)
            line += $" {seconds[i],9:0.000} {flops / seconds[i] / 1e9,8:0.0} {flops / seconds[i] / 1e9 / rates[i],6:0.00}";
        if (seconds.Length == 2) line += $" {seconds[1] / seconds[0],10:0.00}";
        return line;
    }

    /// <summary>Seconds per call of one op in <paramref name="dtype"/> (default fp32; median of at least 3 timed calls
    /// after one untimed call).</summary>
    public static double Time(FlopOp op, torch.ScalarType dtype = torch.ScalarType.Float32)
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        using var g = new torch.Generator(5);
        Action call = op switch
        {
            ConvOp c => ConvCall(c, g, dtype),
            LinearOp l => LinearCall(l, g, dtype),
            AttentionOp a => AttentionCall(a, g, dtype),
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

    private static Action ConvCall(ConvOp c, torch.Generator g, torch.ScalarType dtype)
    {
        var x = torch.randn([c.Batch, c.InChannels, c.Height, c.Width], generator: g).to(dtype);
        var w = torch.randn([c.OutChannels, c.InChannels, c.Kernel, c.Kernel], generator: g).to(dtype);
        var b = torch.zeros(c.OutChannels, dtype: dtype);
        long pad = c.Kernel / 2;
        return () =>
        {
            using var y = torch.nn.functional.conv2d(x, w, b, strides: [c.Stride, c.Stride], padding: [pad, pad]);
        };
    }

    private static Action LinearCall(LinearOp l, torch.Generator g, torch.ScalarType dtype)
    {
        var x = torch.randn([l.Tokens, l.In], generator: g).to(dtype);
        var w = torch.randn([l.Out, l.In], generator: g).to(dtype);
        var b = torch.zeros(l.Out, dtype: dtype);
        return () =>
        {
            using var y = torch.nn.functional.linear(x, w, b);
        };
    }

    private static Action AttentionCall(AttentionOp a, torch.Generator g, torch.ScalarType dtype)
    {
        var q = torch.randn([a.Batch, a.Heads, a.QueryTokens, a.HeadDim], generator: g).to(dtype);
        var k = torch.randn([a.Batch, a.Heads, a.KeyTokens, a.HeadDim], generator: g).to(dtype);
        var v = torch.randn([a.Batch, a.Heads, a.KeyTokens, a.HeadDim], generator: g).to(dtype);
        return () =>
        {
            using var y = torch.nn.functional.scaled_dot_product_attention(q, k, v);
        };
    }
}
