using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// Copies checkpoint tensors into a module's parameters through a <see cref="WeightMap"/>. The whole mapping is
/// checked (headers only) before any weight changes, so a bad file leaves the module untouched. Tensors are read
/// one at a time from the memory mapping straight into the parameter's dtype, so peak memory stays near the
/// size of the model.
/// </summary>
public static class WeightLoader
{
    /// <summary>Checks, then loads. Throws <see cref="CheckpointMappingException"/> when anything does not map.</summary>
    /// <param name="component">Name used in messages (unet, vae, ...).</param>
    /// <param name="module">The module to fill; its parameters keep their dtype and device.</param>
    /// <param name="map">Our names to checkpoint keys.</param>
    /// <param name="source">The checkpoint.</param>
    /// <returns>The mapping report (complete).</returns>
    public static MappingReport Load(string component, torch.nn.Module module, WeightMap map, CheckpointTensors source)
    {
        var state = module.state_dict();
        var report = MappingReport.Build(component, state.ToDictionary(kv => kv.Key, kv => kv.Value.shape), map, source);
        if (!report.IsComplete) throw new CheckpointMappingException(source.Describe(), report);
        using var noGrad = torch.no_grad();
        foreach (var (name, target) in state)
        {
            using var value = source.Read(map.Entries[name], target.dtype);
            target.copy_(value);
        }
        return report;
    }

    /// <summary>Loads a component stored in diffusers layout (keys equal our parameter names) from safetensors files.</summary>
    public static MappingReport LoadDiffusers(string component, torch.nn.Module module, params string[] files)
    {
        using var source = CheckpointTensors.Open(files);
        return Load(component, module, WeightMap.Identity(module.state_dict().Keys), source);
    }
}
