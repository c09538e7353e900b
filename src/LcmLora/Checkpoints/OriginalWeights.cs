using LcmLora.IO;
using LcmLora.Models;
using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// Reads the original values of a loaded model's weights back from the memory-mapped checkpoints it was loaded from
/// (the model's, and the one its UNet came from when it was replaced), so fused LoRAs are undone bit for bit without
/// keeping copies: the same bytes, converted the same way. Each component's key map is built on first use.
/// </summary>
internal sealed class OriginalWeights : IDisposable
{
    private readonly SdxlCheckpoint _checkpoint;
    private readonly SdxlCheckpoint? _unetCheckpoint;
    private readonly Func<ModelComponent, torch.nn.Module> _moduleOf;
    private readonly Dictionary<ModelComponent, (WeightMap Map, Dictionary<string, torch.Tensor> Live)> _maps = [];
    private readonly StagingBuffer _staging = new();

    /// <summary>Reads from <paramref name="checkpoint"/>, and the UNet's weights from <paramref name="unetCheckpoint"/> when given.</summary>
    /// <param name="checkpoint">The checkpoint the model was loaded from (stays owned by the caller).</param>
    /// <param name="unetCheckpoint">The checkpoint the UNet was replaced from, or null.</param>
    /// <param name="moduleOf">The live module of a component.</param>
    public OriginalWeights(SdxlCheckpoint checkpoint, SdxlCheckpoint? unetCheckpoint, Func<ModelComponent, torch.nn.Module> moduleOf)
    {
        _checkpoint = checkpoint;
        _unetCheckpoint = unetCheckpoint;
        _moduleOf = moduleOf;
    }

    /// <summary>
    /// The stored value of one weight, on the live weight's device, in the file's dtype: on the CPU a view of a reused
    /// buffer, valid until the next read (the caller's <c>copy_</c> into the live weight converts it, so no float32 copy
    /// is made per weight).
    /// </summary>
    public torch.Tensor Read(ModelComponent component, string parameter)
    {
        var checkpoint = component == ModelComponent.Unet && _unetCheckpoint is not null ? _unetCheckpoint : _checkpoint;
        if (!_maps.TryGetValue(component, out var entry))
        {
            var state = _moduleOf(component).state_dict();
            _maps[component] = entry = (checkpoint.MapFor(component, state.Keys), state);
        }
        var live = entry.Live[parameter];
        var staged = checkpoint.SourceFor(component).ReadStaged(entry.Map.Entries[parameter], _staging);
        if (live.device_type == DeviceType.CPU) return staged;
        using (staged) return staged.to(live.device);
    }

    /// <summary>Drops a component's cached map (its module was replaced).</summary>
    public void Forget(ModelComponent component) => _maps.Remove(component);

    /// <summary>Frees the staging buffer.</summary>
    public void Dispose() => _staging.Dispose();
}
