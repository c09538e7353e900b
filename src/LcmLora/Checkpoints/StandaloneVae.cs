using LcmLora.IO;
using LcmLora.Models;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// The files of a decoder that comes on its own (a diffusers <c>vae/</c> or TAESD folder, a standalone VAE file such as
/// the fp16-fix VAE), their keys, and loading an <see cref="AutoencoderKL"/> from them in diffusers or original naming.
/// </summary>
internal static class StandaloneVae
{
    /// <summary>The safetensors files at <paramref name="path"/> and every key in their headers (no weights are read).</summary>
    /// <exception cref="LcmLoraInputException">A folder with no .safetensors files.</exception>
    public static (IReadOnlyList<string> Files, List<string> Keys) ReadKeys(string path)
    {
        var files = SafetensorsIn(path);
        var keys = new List<string>();
        foreach (var f in files)
        {
            using var st = SafeTensorsFile.Open(f);
            keys.AddRange(st.Tensors.Select(t => t.Name));
        }
        return (files, keys);
    }

    /// <summary>
    /// Loads an <see cref="AutoencoderKL"/> from <paramref name="files"/> (whose keys are <paramref name="keys"/>): diffusers
    /// names, original names with the <c>first_stage_model.</c> prefix (a whole checkpoint: only the VAE is read), or
    /// original names alone. The config is the <c>config.json</c> beside the weights, else SDXL's.
    /// </summary>
    /// <exception cref="CheckpointMappingException">The weights do not map.</exception>
    public static AutoencoderKL Load(string path, IReadOnlyList<string> files, List<string> keys, torch.Device? device, torch.ScalarType? dtype)
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
            WeightLoader.Load(ModelComponent.Vae.Name(), vae, map, source, dtype ?? torch.ScalarType.Float32, device);
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
