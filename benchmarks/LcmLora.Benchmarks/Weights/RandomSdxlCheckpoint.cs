using System.Text.Json;
using LcmLora.IO;
using TorchSharp;

namespace LcmLora.Benchmarks.Weights;

/// <summary>
/// Writes a full-size SDXL single-file checkpoint with random weights from the key manifest
/// (../shared/fixtures/manifests/sdxl-base-sgm.json) into a cache folder outside the repository, once, and reuses it.
/// Weights are N(0, 1/fan_in) so activations stay in range; norm weights are 1 and biases 0. fp16 on disk (~7 GB),
/// the way SDXL checkpoints are distributed.
/// </summary>
public static class RandomSdxlCheckpoint
{
    /// <summary>The cache folder: LCMLORA_BENCH_CACHE or ~/.cache/lcmlora-bench.</summary>
    public static string CacheDir =>
        Environment.GetEnvironmentVariable("LCMLORA_BENCH_CACHE") is { Length: > 0 } d
            ? d
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "lcmlora-bench");

    /// <summary>Path of the random full-size fp16 single file, written on first use.</summary>
    public static string EnsureSingleFile()
    {
        var path = Path.Combine(CacheDir, "sdxl-base-random-fp16.safetensors");
        if (File.Exists(path)) return path;
        Directory.CreateDirectory(CacheDir);
        var manifest = ManifestPath("sdxl-base-sgm.json");
        Console.Error.WriteLine($"Writing a full-size random SDXL checkpoint to {path} (once; about 7 GB)...");
        using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
        var writer = new SafeTensorsWriter();
        var seed = 0;
        foreach (var entry in doc.RootElement.GetProperty("tensors").EnumerateObject())
        {
            var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var name = entry.Name;
            var s = seed++;
            writer.Add(name, SafeTensorDType.F16, shape, stream => WriteRandom(stream, name, shape, s));
        }
        writer.Save(path, new Dictionary<string, string> { ["format"] = "pt", ["lcmlora"] = "random weights for benchmarks" });
        return path;
    }

    /// <summary>Finds a manifest beside the repository (../shared/fixtures/manifests) or under LCMLORA_FIXTURES.</summary>
    public static string ManifestPath(string name)
    {
        var env = Environment.GetEnvironmentVariable("LCMLORA_FIXTURES");
        if (!string.IsNullOrEmpty(env)) return Path.Combine(env, "manifests", name);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LcmLora.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "fixtures", "manifests", name));
        throw new FileNotFoundException($"Manifest {name} not found; set LCMLORA_FIXTURES.");
    }

    private static void WriteRandom(Stream stream, string name, long[] shape, int seed)
    {
        using var scope = torch.NewDisposeScope();
        torch.Tensor t;
        var isNormWeight = name.EndsWith(".weight", StringComparison.Ordinal) && shape.Length == 1;
        if (name.EndsWith(".bias", StringComparison.Ordinal) || name.EndsWith("_bias", StringComparison.Ordinal)) t = torch.zeros(shape);
        else if (isNormWeight) t = torch.ones(shape);
        else
        {
            var fanIn = shape.Length >= 2 ? shape.Skip(1).Aggregate(1L, (a, b) => a * b) : 1;
            using var g = new torch.Generator((ulong)seed + 1);
            t = torch.randn(shape, generator: g) * (1.0 / Math.Sqrt(fanIn));
        }
        var half = t.to(torch.ScalarType.Float16).contiguous();
        stream.Write(half.bytes);
    }
}
