using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// Fills a module's parameters from a checkpoint through a <see cref="WeightMap"/>. The whole mapping is checked
/// (headers only) before any weight changes, so a bad file leaves the module untouched. Tensors are read one at
/// a time from the memory mapping straight into the parameter's dtype: a module built on the meta device gets
/// each parameter materialized from the file (no random init, no second copy), a module with real parameters is
/// overwritten in place.
/// </summary>
internal static class WeightLoader
{
    /// <summary>Checks, then loads. Throws <see cref="CheckpointMappingException"/> when anything does not map.</summary>
    /// <param name="component">Name used in messages (unet, vae, ...).</param>
    /// <param name="module">The module to fill.</param>
    /// <param name="map">Our names to checkpoint keys.</param>
    /// <param name="source">The checkpoint.</param>
    /// <param name="dtype">For meta-device modules: the dtype to materialize in (default float32).</param>
    /// <param name="device">For meta-device modules: the device to materialize on (default CPU).</param>
    /// <param name="include">Which of our parameter names to load (default: all). Meta-device parameters left out stay
    /// on meta; the whole mapping is still checked.</param>
    /// <param name="cancellationToken">Checked before each tensor read (a cancelled load leaves the module partly filled:
    /// dispose it).</param>
    /// <returns>The mapping report (complete).</returns>
    public static MappingReport Load(string component, torch.nn.Module module, WeightMap map, CheckpointTensors source,
        torch.ScalarType? dtype = null, torch.Device? device = null, Func<string, bool>? include = null, CancellationToken cancellationToken = default)
    {
        var state = module.state_dict();
        var report = MappingReport.Build(component, state.ToDictionary(kv => kv.Key, kv => kv.Value.shape), map, source);
        if (!report.IsComplete) throw new CheckpointMappingException(source.Describe(), report);
        var owners = ModuleMaterializer.Owners(module);
        using var noGrad = torch.no_grad();
        using var staging = new IO.StagingBuffer();
        foreach (var (name, target) in state)
        {
            if (include is not null && !include(name)) continue;
            cancellationToken.ThrowIfCancellationRequested();
            if (target.device_type == DeviceType.META)
            {
                if (!owners.TryGetValue(name, out var owner))
                    throw new NotSupportedException($"{component}: '{name}' is a meta-device buffer; only parameters can be materialized.");
                var value = source.Read(map.Entries[name], dtype ?? torch.ScalarType.Float32, staging);
                var wanted = device ?? torch.CPU;
                if (wanted.type != DeviceType.CPU)
                {
                    using var cpu = value;
                    value = cpu.to(wanted);
                }
                ModuleMaterializer.Replace(owner.Owner, owner.Leaf, value);
            }
            else
            {
                using var value = source.Read(map.Entries[name], target.dtype, staging);
                target.copy_(value);
            }
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
