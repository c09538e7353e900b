using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Models;
using TorchSharp;

namespace LcmLora.Lora;

/// <summary>What <see cref="CheckpointLoraFusion.Fuse"/> wrote.</summary>
/// <param name="Output">The file or folder written.</param>
/// <param name="ChangedTensors">Checkpoint keys whose values changed.</param>
/// <param name="Reports">Per adapter and component, how the LoRA matched.</param>
public sealed record CheckpointFusionResult(string Output, IReadOnlyList<string> ChangedTensors, IReadOnlyList<(string Adapter, LoraReport Report)> Reports);

/// <summary>
/// Bakes LoRAs into a checkpoint once (e.g. LCM-LoRA into your own SDXL fine-tune), writing the result in the input's
/// layout: a single file in, a single file out with the same keys, order and metadata; a diffusers folder in, a folder
/// out. Only fused tensors change; every other tensor is copied byte for byte. The UNet and text encoders are loaded in
/// the checkpoint's own dtype (the VAE is never loaded), deltas are computed in float32 and added once.
/// </summary>
/// <remarks>
/// Outputs are written atomically: a file through a flushed temporary file renamed into place, a folder as a
/// temporary sibling folder swapped in at the end. A failed or cancelled fuse leaves no partial output, and an existing
/// output stays as it was. A folder's weight files other than the ones loaded (e.g. <c>*.fp16.safetensors</c>
/// variants) would be copied unfused, so such folders are refused.
/// </remarks>
public static class CheckpointLoraFusion
{
    /// <summary>Fuses <paramref name="loras"/> into the checkpoint at <paramref name="modelPath"/> and writes <paramref name="outputPath"/>.</summary>
    /// <param name="modelPath">An SDXL single file or diffusers folder.</param>
    /// <param name="loras">The LoRAs and their weights.</param>
    /// <param name="outputPath">The file (single-file input) or folder (diffusers input) to write.</param>
    /// <param name="floatDType">Write every float tensor in this dtype; default: as stored.</param>
    /// <param name="progress">Receives a short description of each stage.</param>
    /// <param name="cancellationToken">Checked between tensors while loading, fusing and writing.</param>
    /// <param name="configDir">Configs for fields a single file's shapes leave open (see <see cref="SdxlCheckpoint.Open(string, string?, string?)"/>).</param>
    /// <exception cref="LcmLoraInputException">No LoRA, an output that would overwrite the input or has the wrong kind
    /// (checked before anything loads), a folder with weight files that would be copied unfused.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; no output was written.</exception>
    public static CheckpointFusionResult Fuse(string modelPath, IReadOnlyList<LoraSpec> loras, string outputPath, SafeTensorDType? floatDType = null,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default, string? configDir = null)
    {
        if (loras.Count == 0) throw new LcmLoraInputException("Give at least one LoRA to fuse.");
        using var checkpoint = SdxlCheckpoint.Open(modelPath, configDir: configDir);
        CheckpointRewrite.CheckOutput(checkpoint, outputPath);
        var modules = new Dictionary<string, torch.nn.Module>();
        try
        {
            foreach (var c in Adapted(checkpoint))
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report($"load {c.Name()}");
                // In the checkpoint's own dtype: unchanged tensors are copied byte for byte, fused ones cast back once.
                modules[c.Name()] = checkpoint.LoadComponent(c, cancellationToken: cancellationToken);
            }
            using var set = LoraAdapterSet.FromModules(modules, keepOriginals: false);
            for (var i = 0; i < loras.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report($"match {Path.GetFileName(loras[i].Path)}");
                set.Add($"{i}:{Path.GetFileNameWithoutExtension(loras[i].Path)}", loras[i].Path, loras[i].Weight);
            }
            progress?.Report("fuse");
            set.Fuse(cancellationToken);
            progress?.Report("write");
            var fused = Adapted(checkpoint).ToDictionary(c => c, c => new ChangedWeights(modules[c.Name()], set.FusedParameters.GetValueOrDefault(c.Name()) ?? []));
            var changed = CheckpointRewrite.Write(checkpoint, fused, outputPath, floatDType, cancellationToken);
            return new CheckpointFusionResult(outputPath, changed, set.Reports.ToList());
        }
        finally
        {
            foreach (var m in modules.Values) m.Dispose();
        }
    }

    /// <summary>The components LoRAs adapt that this checkpoint holds (UNet and text encoders; never the VAE).</summary>
    private static IEnumerable<ModelComponent> Adapted(SdxlCheckpoint checkpoint) => checkpoint.Components.Where(c => c != ModelComponent.Vae);

}
