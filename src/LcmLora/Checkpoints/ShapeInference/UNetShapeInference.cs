using System.Text.Json.Nodes;
using LcmLora.Models.Unet;

namespace LcmLora.Checkpoints.ShapeInference;

/// <summary>
/// Reads a UNet2DConditionModel config from the keys and shapes of an original-layout UNet
/// (<c>model.diffusion_model.*</c>), as ComfyUI's model detection and stable-diffusion.cpp do: channels and layers per
/// level from the resnets and downsamplers, block types and transformer depths per layer from the attention blocks, the
/// mid-block kind, context width, in/out channels, the add-embedding and the guidance projection. Never compares with a
/// list of known models. The result uses diffusers' config.json field names; fields the shapes leave open (heads,
/// norm groups, epsilon, addition_time_embed_dim) are not set.
/// </summary>
internal static class UNetShapeInference
{
    private sealed record Layer(int Channels, int Depth, bool Attention);

    /// <summary>What the encoder half's shapes give, kept for the decoder half's checks.</summary>
    private sealed record Encoder(JsonObject Config, List<List<Layer>> Down, List<int[]> DownDepths, bool UniformDown);

    public static JsonObject Infer(KeyShapes k)
    {
        var (config, down, downDepths, uniformDown) = ReadEncoder(k);
        config["out_channels"] = k.Dim("out.2.weight", 0);
        config["conv_out_kernel"] = k.Dim("out.2.weight", 2);
        var n = down.Count;
        var up = UpLevels(k, down.Select(l => l.Count).ToList());
        var upAttention = up.Select(l => l.Any(x => x.Attention)).ToList();
        config["up_block_types"] = Array(upAttention.Select(a => a ? UNetConfig.CrossAttnUpBlock : UNetConfig.UpBlock));
        var upDepths = up.Select(l => l.Select(x => x.Attention ? x.Depth : 1).ToArray()).ToList();
        var derived = Enumerable.Range(0, n).All(i => !upAttention[i] || uniformDown && upDepths[i].All(d => d == downDepths[n - 1 - i][0]));
        config["reverse_transformer_layers_per_block"] = derived ? null : Nested(upDepths);
        return config;
    }

    /// <summary>
    /// The fields of the encoder half alone (conv_in, embeddings, down and mid blocks, attention widths): all a
    /// ControlNet has (its <c>input_blocks</c>, <c>middle_block</c>, <c>time_embed</c> and <c>label_emb</c> keys are the UNet's).
    /// </summary>
    public static JsonObject InferEncoder(KeyShapes k) => ReadEncoder(k).Config;

    private static Encoder ReadEncoder(KeyShapes k)
    {
        var c0 = k.Dim("input_blocks.0.0.weight", 0);
        var config = new JsonObject
        {
            ["in_channels"] = k.Dim("input_blocks.0.0.weight", 1),
            ["conv_in_kernel"] = k.Dim("input_blocks.0.0.weight", 2),
        };
        var timeEmbed = k.Dim("time_embed.0.weight", 0);
        config["time_embedding_dim"] = timeEmbed == 4 * c0 ? null : timeEmbed;
        config["time_cond_proj_dim"] = k.Has("time_embed.cond_proj.weight") ? k.Dim("time_embed.cond_proj.weight", 1) : null;
        var added = k.Has("label_emb.0.0.weight");
        config["addition_embed_type"] = added ? UNetConfig.TextTimeEmbedding : null;
        config["projection_class_embeddings_input_dim"] = added ? k.Dim("label_emb.0.0.weight", 1) : null;

        var down = DownLevels(k);
        var n = down.Count;
        var layers = down.Select(l => l.Count).ToList();
        var midKind = k.Has("middle_block.1.proj_in.weight") ? UNetConfig.CrossAttnMidBlock
            : k.Has("middle_block.0.in_layers.2.weight") ? UNetConfig.ResnetMidBlock : null;
        var midDepth = midKind == UNetConfig.CrossAttnMidBlock ? k.Indices("middle_block.1.transformer_blocks.").Count : 0;

        config["block_out_channels"] = Array(down.Select(l => l[0].Channels));
        config["layers_per_block"] = layers.Distinct().Count() == 1 ? layers[0] : Array(layers);
        var downAttention = down.Select(l => l.Any(x => x.Attention)).ToList();
        config["down_block_types"] = Array(downAttention.Select(a => a ? UNetConfig.CrossAttnDownBlock : UNetConfig.DownBlock));
        config["mid_block_type"] = midKind;

        // diffusers gives blocks without attention depth 1, except that the mid block takes the last level's depth.
        var downDepths = down.Select((l, i) => l.Select(x => x.Attention ? x.Depth : i == n - 1 && midDepth > 0 ? midDepth : 1).ToArray()).ToList();
        if (downAttention[^1] && midDepth > 0 && downDepths[^1][0] != midDepth)
            throw new LcmLoraInputException($"{k.Source}: the mid block has {midDepth} transformer blocks but the last level {downDepths[^1][0]}; " +
                "diffusers' config cannot express that (transformer_layers_per_block[-1] sets both).");
        var uniformDown = downDepths.All(d => d.Distinct().Count() == 1);
        config["transformer_layers_per_block"] = uniformDown ? Array(downDepths.Select(d => d[0])) : Nested(downDepths);

        var crossKey = k.FirstEndingWith(".attn2.to_k.weight");
        if (crossKey is not null) config["cross_attention_dim"] = k.Dim(crossKey, 1);
        var projIn = k.FirstEndingWith(".proj_in.weight");
        if (projIn is not null) config["use_linear_projection"] = k.Shape(projIn).Length == 2;
        return new Encoder(config, down, downDepths, uniformDown);
    }

    private static List<List<Layer>> DownLevels(KeyShapes k)
    {
        var levels = new List<List<Layer>> { new() };
        foreach (var i in k.Indices("input_blocks.").Where(i => i > 0))
        {
            if (k.Has($"input_blocks.{i}.0.op.weight"))
            {
                levels.Add([]);
                continue;
            }
            levels[^1].Add(BlockAt(k, $"input_blocks.{i}"));
        }
        if (levels.Any(l => l.Count == 0))
            throw new LcmLoraInputException($"{k.Source}: the UNet's input_blocks do not form levels of resnets separated by downsamplers.");
        return levels;
    }

    private static List<List<Layer>> UpLevels(KeyShapes k, IReadOnlyList<int> layers)
    {
        var n = layers.Count;
        var count = k.Indices("output_blocks.").Count;
        var expected = layers.Sum(l => l + 1);
        if (count != expected)
            throw new LcmLoraInputException($"{k.Source}: the UNet has {count} output_blocks; its input levels ({string.Join(", ", layers)} resnets) need {expected}.");
        var result = new List<List<Layer>>();
        var index = 0;
        for (var i = 0; i < n; i++)
        {
            var level = new List<Layer>();
            for (var j = 0; j <= layers[n - 1 - i]; j++) level.Add(BlockAt(k, $"output_blocks.{index++}"));
            result.Add(level);
        }
        return result;
    }

    private static Layer BlockAt(KeyShapes k, string block)
    {
        var attention = k.Has($"{block}.1.proj_in.weight");
        return new Layer(k.Dim($"{block}.0.out_layers.3.weight", 0), attention ? k.Indices($"{block}.1.transformer_blocks.").Count : 0, attention);
    }

    private static JsonArray Array<T>(IEnumerable<T> values) => new(values.Select(v => JsonValue.Create(v)).ToArray<JsonNode?>());

    private static JsonArray Nested(IEnumerable<int[]> rows) => new(rows.Select(r => (JsonNode?)Array(r)).ToArray());
}
