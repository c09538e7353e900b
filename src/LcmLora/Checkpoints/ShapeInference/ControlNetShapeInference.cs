using System.Text.Json.Nodes;
using LcmLora.Models;
using LcmLora.Models.Unet;

namespace LcmLora.Checkpoints.ShapeInference;

/// <summary>
/// Reads a diffusers <c>ControlNetModel</c> config from the shapes of an original-layout ControlNet (keys without the
/// <c>control_model.</c> prefix): the encoder half exactly as a UNet's (<see cref="UNetShapeInference.InferEncoder"/>:
/// channels and layers per level, block types, transformer depths, context width, add-embedding), plus the control
/// image's channels and the conditioning embedding's widths from <c>input_hint_block</c> (conv_in, then two
/// convolutions per step of which the second halves the resolution, then conv_out into the first level's channels).
/// </summary>
internal static class ControlNetShapeInference
{
    private const string Hint = "input_hint_block.";

    public static JsonObject Infer(KeyShapes k)
    {
        var config = UNetShapeInference.InferEncoder(k);
        var convs = k.Indices(Hint);
        if (convs.Count < 2 || convs.Count % 2 != 0)
            throw new LcmLoraInputException($"{k.Source}: '{k.Prefix}{Hint}N' holds {convs.Count} convolutions; a ControlNet conditioning embedding has " +
                "conv_in, two per downscaling step and conv_out (an even number, at least 2).");
        var widths = convs.Take(convs.Count - 1).Where((_, i) => i % 2 == 0).Select(i => k.Dim($"{Hint}{i}.weight", 0)).ToList();
        var c0 = config["block_out_channels"]!.AsArray()[0]!.GetValue<int>();
        var outWidth = k.Dim($"{Hint}{convs[^1]}.weight", 0);
        if (outWidth != c0)
            throw new LcmLoraInputException($"{k.Source}: '{k.Prefix}{Hint}{convs[^1]}.weight' gives {outWidth} channels; conv_in of the encoder has {c0}.");
        config["conditioning_channels"] = k.Dim($"{Hint}0.weight", 1);
        config["conditioning_embedding_out_channels"] = new JsonArray(widths.Select(w => (JsonNode?)w).ToArray());
        return config;
    }

    /// <summary>
    /// The family whose defaults fill the fields the shapes leave open (heads, norm groups, time-id width): SDXL when the
    /// encoder has the text_time add-embedding, SD 1.x otherwise, as <c>ControlNetModel.from_unet</c> copies them from the UNet.
    /// </summary>
    public static ModelFamily FamilyOf(JsonObject inferred) =>
        inferred["addition_embed_type"]?.GetValue<string>() == UNetConfig.TextTimeEmbedding ? ModelFamily.Sdxl : ModelFamily.Sd15;
}
