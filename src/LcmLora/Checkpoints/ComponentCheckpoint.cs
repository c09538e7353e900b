using LcmLora.Models;
using LcmLora.Models.ControlNet;
using LcmLora.Models.Unet;
using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// Loads one model that comes on its own rather than inside a pipeline checkpoint: a ControlNet, or a replacement
/// UNet (an inpainting UNet with 9 input channels on a base model). Accepts a diffusers component folder
/// (<c>config.json</c> + <c>diffusion_pytorch_model[.fp16].safetensors</c>, possibly sharded) or a single
/// <c>.safetensors</c> file with diffusers keys (a UNet's config read from a <c>config.json</c> beside it); a ControlNet
/// file may also use the original layout (<c>control_model.input_blocks...</c>, mapped by <c>ControlNetSgmNames</c>),
/// and its config is read from its shapes (<c>ControlNetFileConfig</c>). Modules are built on the meta device and each weight is materialized once from the mapping;
/// a file that does not match fails before any module is returned.
/// </summary>
public static class ComponentCheckpoint
{
    /// <summary>Loads a ControlNet, SDXL or SD 1.x (diffusers folder, or single safetensors file in diffusers or original layout).</summary>
    /// <param name="path">The folder or file.</param>
    /// <param name="device">Device (default CPU).</param>
    /// <param name="dtype">Compute dtype (default float32).</param>
    /// <exception cref="LcmLoraInputException">The path, its config or its tensors do not make a ControlNet.</exception>
    public static SdxlControlNet LoadControlNet(string path, torch.Device? device = null, torch.ScalarType? dtype = null) => LoadControlNet(path, device, dtype, null);

    /// <summary>As <see cref="LoadControlNet(string, torch.Device?, torch.ScalarType?)"/>, with <paramref name="config"/> the
    /// architecture; by default a diffusers folder's config.json, and for a single file the one read from its tensor
    /// shapes (open fields from a config.json beside it, else the family's defaults).</summary>
    internal static SdxlControlNet LoadControlNet(string path, torch.Device? device, torch.ScalarType? dtype, ControlNetConfig? config)
    {
        var (files, configPath) = Locate(path);
        var chosen = config ?? (Directory.Exists(path) && configPath is not null ? ControlNetConfig.FromJson(configPath) : InferredControlNetConfig(files, path, configPath));
        return LoadInto(ModelComponent.ControlNet, new SdxlControlNet(chosen, torch.device("meta")), files, device, dtype, (module, source) =>
        {
            var names = WeightMap.ShapesOf(module).Keys;
            // The original layout (ControlNet's own training code): with or without the control_model. prefix.
            var prefix = ControlNetFileConfig.OriginalPrefix(source);
            if (prefix is null) return WeightMap.Identity(names);
            var layers = chosen.Unet.LayersPerBlock.Distinct().ToArray();
            if (layers.Length != 1) throw new LcmLoraInputException($"{path}: the original ControlNet layout needs the same layers_per_block for every block.");
            return new ControlNetSgmNames(names, layers[0], 2 * (chosen.ConditioningEmbeddingOutChannels.Count - 1)).CheckpointMap(names, prefix);
        });
    }

    private static ControlNetConfig InferredControlNetConfig(string[] files, string path, string? besideConfig)
    {
        using var source = CheckpointTensors.Open(files);
        return ControlNetFileConfig.Read(source, path, besideConfig);
    }

    /// <summary>Loads a UNet from a diffusers <c>unet/</c> folder or a single diffusers-layout file with a config.json beside it.</summary>
    /// <exception cref="LcmLoraInputException">The path, its config or its tensors do not make a UNet.</exception>
    internal static SdxlUNet LoadUNet(string path, torch.Device? device = null, torch.ScalarType? dtype = null, UNetConfig? config = null)
    {
        var (files, configPath) = Locate(path);
        var chosen = config ?? (configPath is null
            ? throw new LcmLoraInputException($"{path}: no config.json found beside the UNet weights (a diffusers unet/ folder has one).")
            : UNetConfig.FromJson(configPath));
        return LoadInto(ModelComponent.Unet, new SdxlUNet(chosen, torch.device("meta")), files, device, dtype, (module, _) => WeightMap.Identity(WeightMap.ShapesOf(module).Keys));
    }

    private static (string[] Files, string? ConfigPath) Locate(string path)
    {
        if (Directory.Exists(path))
        {
            var config = Path.Combine(path, "config.json");
            return ([.. DiffusersFolder.WeightFilesIn(path)], File.Exists(config) ? config : null);
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file or folder not found.", path);
        IO.CheckpointFormatGuard.ThrowIfPickle(path);
        var beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "config.json");
        return ([path], File.Exists(beside) ? beside : null);
    }

    private static T LoadInto<T>(ModelComponent component, T module, string[] files, torch.Device? device, torch.ScalarType? dtype,
        Func<T, CheckpointTensors, WeightMap> map) where T : torch.nn.Module
    {
        try
        {
            using var source = CheckpointTensors.Open(files);
            WeightLoader.Load(component.Name(), module, map(module, source), source, dtype ?? torch.ScalarType.Float32, device);
            module.eval();
            return module;
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }
}
