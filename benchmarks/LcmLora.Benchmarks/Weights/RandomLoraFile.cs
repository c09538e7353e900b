using System.Text.Json;
using LcmLora.IO;
using TorchSharp;

namespace LcmLora.Benchmarks.Weights;

/// <summary>
/// Writes a LoRA with the exact layout of the released LCM-LoRA for SDXL (kohya names, rank 64, 788 UNet modules,
/// 197M parameters; manifest ../shared/fixtures/manifests/lcm-lora-sdxl-kohya-rank64.json) and random values into the
/// benchmark cache, once. fp16 like the released file; alpha = 64 (scale 1); down N(0, 1/fan_in), up N(0, 1e-4/64)
/// so the fused model stays finite and close to the base.
/// </summary>
public static class RandomLoraFile
{
    /// <summary>Path of the random LCM-LoRA-shaped file, written on first use.</summary>
    public static string EnsureLcmLoraShaped()
    {
        var path = Path.Combine(RandomSdxlCheckpoint.CacheDir, "lcm-lora-sdxl-shaped-random-rank64-fp16.safetensors");
        if (File.Exists(path)) return path;
        Directory.CreateDirectory(RandomSdxlCheckpoint.CacheDir);
        using var doc = JsonDocument.Parse(File.ReadAllText(RandomSdxlCheckpoint.ManifestPath("lcm-lora-sdxl-kohya-rank64.json")));
        var writer = new SafeTensorsWriter();
        var seed = 100;
        foreach (var entry in doc.RootElement.GetProperty("tensors").EnumerateObject())
        {
            var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var name = entry.Name;
            var s = seed++;
            writer.Add(name, SafeTensorDType.F16, shape, stream => WriteRandom(stream, name, shape, s));
        }
        var staging = path + ".partial";
        writer.Save(staging, new Dictionary<string, string> { ["format"] = "pt", ["lcmlora"] = "random LCM-LoRA-shaped weights for benchmarks" });
        File.Move(staging, path);
        return path;
    }

    private static void WriteRandom(Stream stream, string name, long[] shape, int seed)
    {
        using var scope = torch.NewDisposeScope();
        torch.Tensor t;
        if (name.EndsWith(".alpha", StringComparison.Ordinal)) t = torch.tensor(64f);
        else
        {
            using var g = new torch.Generator((ulong)seed);
            var fanIn = shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            var std = name.Contains(".lora_up.", StringComparison.Ordinal) ? 1e-2 / Math.Sqrt(fanIn) : 1.0 / Math.Sqrt(fanIn);
            t = torch.randn(shape, generator: g) * std;
        }
        stream.Write(t.to(torch.ScalarType.Float16).contiguous().bytes);
    }
}
