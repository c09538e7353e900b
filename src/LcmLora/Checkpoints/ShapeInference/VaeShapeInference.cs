using System.Text.Json.Nodes;
using LcmLora.Models.Vae;

namespace LcmLora.Checkpoints.ShapeInference;

/// <summary>
/// Reads an AutoencoderKL config from the shapes of an original-layout VAE (<c>encoder.down.N.block.M</c>, ...):
/// channels per level, resnets per level, latent, image channels, and whether the quant convolutions and the mid-block
/// attention exist. Norm groups and the scaling factor are left open (family defaults).
/// </summary>
internal static class VaeShapeInference
{
    public static JsonObject Infer(KeyShapes k)
    {
        var levels = k.Indices("encoder.down.");
        if (levels.Count == 0) throw new LcmLoraInputException($"{k.Source}: no '{k.Prefix}encoder.down.N' keys; not an AutoencoderKL.");
        return new JsonObject
        {
            ["in_channels"] = k.Dim("encoder.conv_in.weight", 1),
            ["out_channels"] = k.Dim("decoder.conv_out.weight", 0),
            ["latent_channels"] = k.Dim("decoder.conv_in.weight", 1),
            ["block_out_channels"] = new JsonArray(levels.Select(l => (JsonNode?)k.Dim($"encoder.down.{l}.block.0.conv2.weight", 0)).ToArray()),
            ["layers_per_block"] = k.Indices("encoder.down.0.block.").Count,
            ["down_block_types"] = new JsonArray(levels.Select(_ => (JsonNode?)VaeConfig.DownEncoderBlock).ToArray()),
            ["up_block_types"] = new JsonArray(levels.Select(_ => (JsonNode?)VaeConfig.UpDecoderBlock).ToArray()),
            ["use_quant_conv"] = k.Has("quant_conv.weight"),
            ["use_post_quant_conv"] = k.Has("post_quant_conv.weight"),
            ["mid_block_add_attention"] = k.Has("encoder.mid.attn_1.q.weight"),
        };
    }
}
