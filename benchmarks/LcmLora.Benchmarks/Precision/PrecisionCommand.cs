using System.Diagnostics;
using System.Globalization;
using LcmLora.Benchmarks.Diagnosers;
using LcmLora.Benchmarks.Setup;
using LcmLora.Models;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;
using LcmLora.Pipelines;
using LcmLora.Runtime;
using TorchSharp;

namespace LcmLora.Benchmarks.Precision;

/// <summary>
/// fp32 against bf16 on the full-size model with random weights (outside BenchmarkDotNet: a 1024x1024 fp32 step takes
/// ~50 s, and the comparison needs both precisions' outputs in one process).
/// <c>precision-compare [SIZES]</c>: the mm rate of both dtypes, then per dtype the UNet loaded alone (from the fp16
/// file), one warm-up and timed steps at each size (3 at 512, 1 above), then the VAE decode at 512 (1 warm-up, 2 timed);
/// bf16 outputs are compared with fp32 on the same inputs (cosine similarity, relative L2 error).
/// <c>generate-once DTYPE SIZE [MODE]</c>: <see cref="SdxlPipeline.Load"/> and one 4-step generation (no warm-up), with
/// the stage times and the sampled anonymous peak; MODE is a <see cref="GenerationWorkload"/> (plain, inpaint,
/// controlnet). <c>generate-fresh DTYPES SIZES [MODES]</c> runs it in a fresh process each.
/// </summary>
public static class PrecisionCommand
{
    private static readonly torch.ScalarType[] Both = [torch.ScalarType.Float32, torch.ScalarType.BFloat16];

    /// <summary>The in-process comparison.</summary>
    public static int Compare(string[] args)
    {
        BenchModels.Init();
        var sizes = args.Length > 1 ? args[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [512, 1024];
        Console.WriteLine($"precision-compare: {BenchModels.Threads} threads, {DateTime.UtcNow:u}, CPU bf16: {CpuBf16Support.Feature ?? "none"}");
        foreach (var t in Both) Console.WriteLine($"mm 2048 {Name(t)}: {MatmulRate(t):0.0} GFLOP/s");
        using var checkpoint = BenchModels.Open(BenchModels.Full);
        var u = checkpoint.Configs.Unet;
        using var g = new torch.Generator(42);
        var text = torch.randn([1, 77, u.CrossAttentionDim[^1]], generator: g);
        var pooled = torch.randn([1, (long)(u.ProjectionClassEmbeddingsInputDim ?? 0) - 6 * (u.AdditionTimeEmbedDim ?? 0)], generator: g);
        var latents = sizes.ToDictionary(s => s, s => torch.randn([1, u.InChannels, s / 8, s / 8], generator: g));
        var reference = new Dictionary<string, torch.Tensor>();
        foreach (var dtype in Both)
        {
            using var _ = torch.inference_mode();
            var clock = Stopwatch.StartNew();
            using var unet = BenchModels.LoadComponent<SdxlUNet>(checkpoint, ModelComponent.Unet, dtype);
            Console.WriteLine($"unet {Name(dtype)}: loaded in {clock.Elapsed.TotalSeconds:0.00} s");
            foreach (var size in sizes)
            {
                using var scope = torch.NewDisposeScope();
                var ids = torch.tensor(new float[] { size, size, 0, 0, size, size }).unsqueeze(0).to(dtype);
                var conditioning = unet.ConditioningEmbedding(pooled.to(dtype), ids);
                var sample = latents[size].to(dtype);
                var states = text.to(dtype);
                using var timestep = torch.tensor(new[] { 999f });
                torch.Tensor Step() => unet.Denoise(sample, timestep, states, conditioning);
                Report($"unet step {size}", dtype, Timed(Step, size <= 512 ? 3 : 1), reference);
            }
        }
        foreach (var dtype in Both)
        {
            using var _ = torch.inference_mode();
            using var vae = BenchModels.LoadComponent<AutoencoderKL>(checkpoint, ModelComponent.Vae, dtype);
            using var scope = torch.NewDisposeScope();
            var z = (latents.TryGetValue(512, out var l) ? l : torch.randn([1, u.InChannels, 64, 64], generator: g)).to(dtype);
            Report("vae decode 512", dtype, Timed(() => vae.Decode(z), 2), reference);
        }
        return 0;
    }

    /// <summary>One load and generation in this process.</summary>
    public static int GenerateOnce(string[] args)
    {
        if (args.Length < 3) throw new ArgumentException("generate-once DTYPE SIZE [MODE]");
        var precision = ComputePrecisions.Parse(args[1]);
        var size = int.Parse(args[2], CultureInfo.InvariantCulture);
        var mode = args.Length > 3 ? args[3] : "plain";
        BenchModels.Init();
        var path = BenchModels.PathOf(BenchModels.Full);
        using var sampler = new AnonPeakSampler();
        var clock = Stopwatch.StartNew();
        using var pipeline = SdxlPipeline.Load(path, new PipelineOptions { Precision = precision, Threads = BenchModels.Threads });
        var load = clock.Elapsed.TotalSeconds;
        var afterLoad = ProcStatus.Self().AnonBytes;
        using var workload = GenerationWorkload.Create(mode, pipeline, size, BenchPipelines.Prompt);
        using var result = pipeline.Generate(workload.Request);
        var t = result.Timings;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"GEN dtype={Name(result.DType)} size={size} mode={mode} load_s={load:0.00} generate_s={result.Elapsed.TotalSeconds:0.00} encode_s={t.Encode.TotalSeconds:0.00} " +
            $"denoise_s={t.Denoise.TotalSeconds:0.00} decode_s={t.Decode.TotalSeconds:0.00} anon_after_load_gb={afterLoad / 1e9:0.00} peak_anon_gb={sampler.Peak / 1e9:0.00}"));
        return 0;
    }

    /// <summary>generate-once in a fresh child process per dtype and size.</summary>
    public static int GenerateFresh(string[] args)
    {
        var dtypes = args.Length > 1 ? args[1].Split(',') : ["fp32", "bf16"];
        var sizes = args.Length > 2 ? args[2].Split(',') : ["512", "1024"];
        var modes = args.Length > 3 ? args[3].Split(',') : ["plain"];
        var dll = typeof(PrecisionCommand).Assembly.Location;
        foreach (var size in sizes)
            foreach (var dtype in dtypes)
            foreach (var mode in modes)
            {
                var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true };
                if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet") start.ArgumentList.Add(dll);
                foreach (var a in new[] { "generate-once", dtype, size, mode }) start.ArgumentList.Add(a);
                using var child = Process.Start(start)!;
                var line = child.StandardOutput.ReadToEnd().Split('\n').FirstOrDefault(l => l.StartsWith("GEN ", StringComparison.Ordinal));
                child.WaitForExit();
                Console.WriteLine(line ?? $"generate-once {dtype} {size} {mode} failed (exit {child.ExitCode})");
            }
        return 0;
    }

    private static (List<double> Seconds, torch.Tensor Output) Timed(Func<torch.Tensor> run, int timed)
    {
        run().Dispose(); // warm-up
        var seconds = new List<double>();
        torch.Tensor? last = null;
        for (var i = 0; i < timed; i++)
        {
            last?.Dispose();
            var clock = Stopwatch.StartNew();
            last = run();
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return (seconds, last!);
    }

    private static void Report(string what, torch.ScalarType dtype, (List<double> Seconds, torch.Tensor Output) r, Dictionary<string, torch.Tensor> reference)
    {
        var times = string.Join(", ", r.Seconds.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)));
        var line = $"{what} {Name(dtype)}: mean {r.Seconds.Average():0.00} s ({times})";
        var output = r.Output.to(torch.ScalarType.Float32).DetachFromDisposeScope();
        if (dtype == torch.ScalarType.Float32) reference[what] = output;
        else if (reference.TryGetValue(what, out var fp32))
        {
            using var scope = torch.NewDisposeScope();
            var cosine = torch.nn.functional.cosine_similarity(output.flatten(), fp32.flatten(), 0).item<float>();
            var rel = ((output - fp32).norm() / fp32.norm()).item<float>();
            line += $"; vs fp32: cosine {cosine:0.000000}, relative L2 error {rel:0.0000}";
            output.Dispose();
        }
        Console.WriteLine(line);
    }

    private static double MatmulRate(torch.ScalarType dtype)
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        using var g = new torch.Generator(3);
        var a = torch.randn([2048, 2048], generator: g).to(dtype);
        var b = torch.randn([2048, 2048], generator: g).to(dtype);
        a.mm(b).Dispose();
        var clock = Stopwatch.StartNew();
        const int n = 5;
        for (var i = 0; i < n; i++) a.mm(b).Dispose();
        return n * 2.0 * 2048 * 2048 * 2048 / clock.Elapsed.TotalSeconds / 1e9;
    }

    private static string Name(torch.ScalarType t) => ComputePrecisions.ShortName(t);
}
