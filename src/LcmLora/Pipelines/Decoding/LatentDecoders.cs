using LcmLora.Checkpoints;
using LcmLora.Models.Taesd;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Pipelines.Decoding;

/// <summary>
/// Loads a replacement decoder from a file or folder, detecting its kind from the tensor names: TAESD-XL (diffusers
/// folder, the original encoder/decoder pair, or a decoder file alone) or any SDXL <see cref="AutoencoderKL"/>
/// (a diffusers <c>vae/</c> folder, a standalone VAE file in diffusers or original naming, e.g. the fp16-fix VAE).
/// </summary>
public static class LatentDecoders
{
    /// <summary>Loads the decoder at <paramref name="path"/>.</summary>
    /// <param name="path">A folder or a <c>.safetensors</c> file.</param>
    /// <param name="device">Where it runs (default CPU).</param>
    /// <param name="dtype">Its dtype (default float32).</param>
    /// <exception cref="LcmLoraInputException">Neither kind, or the weights do not map.</exception>
    public static ILatentDecoder Load(string path, torch.Device? device = null, torch.ScalarType? dtype = null)
    {
        var (files, keys) = ReadKeys(path);
        return KindOf(path, keys) == LatentDecoderKind.Taesd
            ? new TaesdLatentDecoder(AutoencoderTiny.Load(path, device: device, dtype: dtype))
            : new VaeLatentDecoder(LoadAutoencoderKl(path, files, keys, device, dtype));
    }

    /// <summary>Which kind of decoder <paramref name="path"/> holds, from the tensor names in its headers (no weights are read).</summary>
    /// <exception cref="LcmLoraInputException">Neither kind.</exception>
    public static LatentDecoderKind Detect(string path) => KindOf(path, ReadKeys(path).Keys);

    private static (IReadOnlyList<string> Files, List<string> Keys) ReadKeys(string path)
    {
        var files = SafetensorsIn(path);
        var keys = new List<string>();
        foreach (var f in files)
        {
            using var st = IO.SafeTensorsFile.Open(f);
            keys.AddRange(st.Tensors.Select(t => t.Name));
        }
        return (files, keys);
    }

    private static LatentDecoderKind KindOf(string path, List<string> keys) =>
        TaesdDetector.LooksLikeTaesd(keys) ? LatentDecoderKind.Taesd
        : TaesdDetector.LooksLikeAutoencoderKl(keys) ? LatentDecoderKind.AutoencoderKl
        : throw new LcmLoraInputException($"{path}: neither a TAESD-XL nor an AutoencoderKL VAE (no encoder/decoder tensors found).");

    private static AutoencoderKL LoadAutoencoderKl(string path, IReadOnlyList<string> files, List<string> keys, torch.Device? device, torch.ScalarType? dtype)
    {
        var configPath = Directory.Exists(path) ? Path.Combine(path, "config.json") : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "config.json");
        var config = File.Exists(configPath) ? VaeConfig.FromJson(configPath) : VaeConfig.SdxlBase;
        var vae = new AutoencoderKL(config, torch.device("meta"));
        try
        {
            var names = WeightMap.ShapesOf(vae).Keys.ToList();
            WeightMap map;
            if (keys.Any(k => k.StartsWith("decoder.up_blocks.", StringComparison.Ordinal))) map = WeightMap.Identity(names);
            else if (keys.Any(k => k.StartsWith(VaeSgmNames.CheckpointPrefix, StringComparison.Ordinal))) map = new VaeSgmNames(config.BlockOutChannels.Count).CheckpointMap(names);
            else map = new VaeSgmNames(config.BlockOutChannels.Count).CheckpointMap(names, prefix: "");
            using var source = CheckpointTensors.Open([.. files]);
            if (keys.Any(k => k.StartsWith(VaeSgmNames.CheckpointPrefix, StringComparison.Ordinal)))
                map = map with { OwnsKey = k => k.StartsWith(VaeSgmNames.CheckpointPrefix, StringComparison.Ordinal) };
            WeightLoader.Load("vae", vae, map, source, dtype ?? torch.ScalarType.Float32, device);
            vae.eval();
            return vae;
        }
        catch
        {
            vae.Dispose();
            throw;
        }
    }

    private static IReadOnlyList<string> SafetensorsIn(string path)
    {
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder.", path);
        var files = Directory.EnumerateFiles(path, "*.safetensors").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new LcmLoraInputException($"{path}: no .safetensors files in this folder.");
        // A diffusers VAE folder may hold both the full and the fp16 variant: use one.
        var main = files.FirstOrDefault(f => Path.GetFileName(f) == "diffusion_pytorch_model.safetensors");
        return main is not null ? [main] : files;
    }
}

/// <summary>The kinds of replacement decoder <see cref="LatentDecoders"/> loads.</summary>
public enum LatentDecoderKind
{
    /// <summary>TAESD-XL: a tiny, fast approximate decoder (also used for step previews).</summary>
    Taesd,
    /// <summary>A full SDXL AutoencoderKL.</summary>
    AutoencoderKl,
}
