using System.Text.Json.Nodes;
using LcmLora.Checkpoints.ShapeInference;
using LcmLora.Models;
using LcmLora.Models.ControlNet;

namespace LcmLora.Checkpoints;

/// <summary>
/// Settles the config of a ControlNet that comes as weights alone (a single file such as
/// <c>control_v11p_sd15_canny.safetensors</c>, or a folder without config.json), as <see cref="ConfigResolver"/> does for
/// a UNet: the shapes give the architecture (<see cref="ControlNetShapeInference"/>; diffusers-layout keys are renamed
/// into the original layout first), a <c>config.json</c> beside the weights supplies the open fields and is checked
/// against the shapes, and the family defaults (SDXL when the encoder has the text_time embedding, SD 1.x otherwise)
/// fill in the rest.
/// </summary>
internal static class ControlNetFileConfig
{
    /// <summary>The original layout's key of the conditioning embedding's first convolution: tells the layouts apart.</summary>
    public const string HintKey = "input_hint_block.0.weight";

    /// <summary>The prefix of original-layout keys (<see cref="ControlNetSgmNames.CheckpointPrefix"/> or none), or null for diffusers keys.</summary>
    public static string? OriginalPrefix(CheckpointTensors source) =>
        source.Contains(ControlNetSgmNames.CheckpointPrefix + HintKey) ? ControlNetSgmNames.CheckpointPrefix
        : source.Contains(HintKey) ? "" : null;

    /// <summary>The config of the weights in <paramref name="source"/>; <paramref name="path"/> names them in messages and in <see cref="ControlNetConfig.Source"/>.</summary>
    /// <exception cref="LcmLoraInputException">The shapes do not make a ControlNet, contradict the config beside them, or leave fields open.</exception>
    public static ControlNetConfig Read(CheckpointTensors source, string path, string? besideConfig)
    {
        var inferred = ControlNetShapeInference.Infer(OriginalShapes(source, path));
        // A ControlNet has no up blocks; the UNet config the resolver validates needs them (ControlNetConfig mirrors the down blocks).
        inferred["up_block_types"] = new JsonArray(ControlNetConfig.MirroredUpBlocks(
            inferred["down_block_types"]!.AsArray().Select(t => t!.GetValue<string>()).ToArray()).Select(t => (JsonNode?)t).ToArray());
        var family = ControlNetShapeInference.FamilyOf(inferred);
        var supplied = besideConfig is null ? null : ConfigResolver.ReadObject(besideConfig);
        var report = ConfigResolver.Resolve(ModelComponent.Unet, family, inferred, supplied, path).Report;
        if (report.Missing.Count > 0)
            throw new LcmLoraInputException($"{path}: the ControlNet's shapes do not determine {string.Join(", ", report.Missing)}, " +
                $"and neither does a config.json beside it or the {family.Name} defaults.");
        try
        {
            if (report.Problem is not null) throw new LcmLoraInputException(report.Problem);
            return ControlNetConfig.FromJson(DiffusersConfigJson.FromObject(path, report.Config));
        }
        catch (LcmLoraInputException e) when (besideConfig is null)
        {
            // Without a config, a problem can only be a family default the shapes reject (a model narrower than released ones).
            throw new LcmLoraInputException($"{path}: the {family.Name} defaults do not fit this ControlNet's shapes ({e.Message}); " +
                "put its diffusers config.json beside the file.", e);
        }
    }

    /// <summary>The shapes under original-layout names, whichever layout the file uses.</summary>
    private static KeyShapes OriginalShapes(CheckpointTensors source, string path)
    {
        if (OriginalPrefix(source) is { } prefix) return new KeyShapes(source, prefix);
        if (!source.Contains("controlnet_cond_embedding.conv_in.weight"))
            throw new LcmLoraInputException($"{path}: neither '{ControlNetSgmNames.CheckpointPrefix}{HintKey}', '{HintKey}' nor " +
                "'controlnet_cond_embedding.conv_in.weight' is present; this is not a ControlNet.");
        var diffusers = new KeyShapes(source, "");
        var names = source.Keys.ToList();
        var table = new ControlNetSgmNames(names, diffusers.Indices("down_blocks.0.resnets.").Count,
            diffusers.Indices("controlnet_cond_embedding.blocks.").Count);
        var renamed = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var name in names)
            if (table.Parameter(name) is { } original) renamed[original] = source.Info(name).Shape;
        return new KeyShapes(path, "", renamed);
    }
}
