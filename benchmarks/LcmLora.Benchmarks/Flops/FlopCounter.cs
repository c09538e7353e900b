using LcmLora.Models;
using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;

namespace LcmLora.Benchmarks.Flops;

/// <summary>
/// Counts the matrix-product FLOPs of SDXL's forward passes by walking the configs the same way the modules are built
/// (convs 2·Cin·Cout·k²·Hout·Wout, linears 2·in·out per token, attention 4·Q·K·d). Normalizations, activations,
/// softmax, additions and resampling are not counted: they are memory-bound and below 1% of the total.
/// </summary>
internal static class FlopCounter
{
    /// <summary>Text tokens per prompt (CLIP context).</summary>
    public const int TextTokens = 77;

    /// <summary>
    /// One UNet denoising step (<c>SdxlUNet.Denoise</c>): everything but the once-per-generation conditioning
    /// embedding (<c>add_embedding</c>, counted by <see cref="UNetConditioning"/>).
    /// </summary>
    public static List<FlopOp> UNetStep(UNetConfig c, long batch, long height, long width, long textTokens = TextTokens)
    {
        var ops = new List<FlopOp>();
        var ted = c.TimeEmbedDim;
        var c0 = c.BlockOutChannels[0];
        ops.Add(new LinearOp("time_embedding.linear_1", batch, c0, ted));
        ops.Add(new LinearOp("time_embedding.linear_2", batch, ted, ted));
        ops.Add(new ConvOp("conv_in", batch, c.InChannels, c0, c.ConvInKernel, 1, height, width));
        long h = height, w = width;
        for (var i = 0; i < c.Levels; i++)
        {
            var output = c.BlockOutChannels[i];
            var input = i == 0 ? c0 : c.BlockOutChannels[i - 1];
            for (var l = 0; l < c.LayersPerBlock[i]; l++)
            {
                var at = $"down_blocks.{i}";
                Resnet(ops, $"{at}.resnets.{l}", batch, l == 0 ? input : output, output, ted, h, w);
                if (c.DownBlockTypes[i] == UNetConfig.CrossAttnDownBlock)
                    Transformer(ops, $"{at}.attentions.{l}", batch, output, c.AttentionHeads[i], c.TransformerLayersPerBlock[i][l],
                        c.CrossAttentionDim[i], textTokens, h, w);
            }
            if (i < c.Levels - 1)
            {
                ops.Add(new ConvOp($"down_blocks.{i}.downsamplers.0.conv", batch, output, output, 3, 2, h, w));
                h = (h + 1) / 2;
                w = (w + 1) / 2;
            }
        }
        var mid = c.BlockOutChannels[^1];
        Resnet(ops, "mid_block.resnets.0", batch, mid, mid, ted, h, w);
        Transformer(ops, "mid_block.attentions.0", batch, mid, c.AttentionHeads[^1], c.TransformerLayersPerBlock[^1][0],
            c.CrossAttentionDim[^1], textTokens, h, w);
        Resnet(ops, "mid_block.resnets.1", batch, mid, mid, ted, h, w);
        var n = c.Levels;
        for (var index = 0; index < n; index++)
        {
            var level = n - 1 - index;
            var output = c.BlockOutChannels[level];
            var previous = c.BlockOutChannels[Math.Min(level + 1, n - 1)];
            var skipIn = c.BlockOutChannels[Math.Max(level - 1, 0)];
            var layers = c.LayersPerBlock[level] + 1;
            for (var l = 0; l < layers; l++)
            {
                var at = $"up_blocks.{index}";
                var skip = l == layers - 1 ? skipIn : output;
                Resnet(ops, $"{at}.resnets.{l}", batch, (l == 0 ? previous : output) + skip, output, ted, h, w);
                if (c.UpBlockTypes[index] == UNetConfig.CrossAttnUpBlock)
                    Transformer(ops, $"{at}.attentions.{l}", batch, output, c.AttentionHeads[level], c.ReverseTransformerLayersPerBlock[index][l],
                        c.CrossAttentionDim[level], textTokens, h, w);
            }
            if (index < n - 1)
            {
                h *= 2;
                w *= 2;
                ops.Add(new ConvOp($"up_blocks.{index}.upsamplers.0.conv", batch, output, output, 3, 1, h, w));
            }
        }
        ops.Add(new ConvOp("conv_out", batch, c0, c.OutChannels, c.ConvOutKernel, 1, h, w));
        return ops;
    }

    /// <summary>The once-per-generation conditioning embedding (<c>add_embedding</c>).</summary>
    public static List<FlopOp> UNetConditioning(UNetConfig c, long batch) => c.ProjectionClassEmbeddingsInputDim is { } width
        ? [
            new LinearOp("add_embedding.linear_1", batch, width, c.TimeEmbedDim),
            new LinearOp("add_embedding.linear_2", batch, c.TimeEmbedDim, c.TimeEmbedDim),
        ]
        : []; // UNets without added conditioning (SD 1.x) have no add_embedding

    /// <summary>The VAE decoder (<c>AutoencoderKL.Decode</c>) on <c>[batch, latent, h, w]</c> latents.</summary>
    public static List<FlopOp> VaeDecode(VaeConfig v, long batch, long height, long width)
    {
        var ops = new List<FlopOp>();
        var reversed = v.BlockOutChannels.Reverse().ToArray();
        if (v.UsePostQuantConv) ops.Add(new ConvOp("post_quant_conv", batch, v.LatentChannels, v.LatentChannels, 1, 1, height, width));
        ops.Add(new ConvOp("decoder.conv_in", batch, v.LatentChannels, reversed[0], 3, 1, height, width));
        long h = height, w = width;
        var c = reversed[0];
        Resnet(ops, "decoder.mid_block.resnets.0", batch, c, c, null, h, w);
        if (v.MidBlockAddAttention)
        {
            var tokens = batch * h * w;
            foreach (var p in new[] { "to_q", "to_k", "to_v", "to_out.0" })
                ops.Add(new LinearOp($"decoder.mid_block.attentions.0.{p}", tokens, c, c));
            ops.Add(new AttentionOp("decoder.mid_block.attentions.0.sdpa", batch, 1, h * w, h * w, c));
        }
        Resnet(ops, "decoder.mid_block.resnets.1", batch, c, c, null, h, w);
        for (var i = 0; i < reversed.Length; i++)
        {
            var input = i == 0 ? reversed[0] : reversed[i - 1];
            for (var l = 0; l < v.LayersPerBlock + 1; l++)
                Resnet(ops, $"decoder.up_blocks.{i}.resnets.{l}", batch, l == 0 ? input : reversed[i], reversed[i], null, h, w);
            if (i < reversed.Length - 1)
            {
                h *= 2;
                w *= 2;
                ops.Add(new ConvOp($"decoder.up_blocks.{i}.upsamplers.0.conv", batch, reversed[i], reversed[i], 3, 1, h, w));
            }
        }
        ops.Add(new ConvOp("decoder.conv_out", batch, reversed[^1], v.OutChannels, 3, 1, h, w));
        return ops;
    }

    /// <summary>
    /// A CLIP text encoder running <paramref name="layers"/> transformer layers on <paramref name="tokens"/> tokens,
    /// plus the text projection of the pooled token when the config has one.
    /// </summary>
    public static List<FlopOp> ClipText(ClipTextConfig c, int layers, long batch, long tokens = TextTokens, string name = "text_model")
    {
        var ops = new List<FlopOp>();
        var rows = batch * tokens;
        for (var l = 0; l < layers; l++)
        {
            var at = $"{name}.encoder.layers.{l}";
            foreach (var p in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
                ops.Add(new LinearOp($"{at}.self_attn.{p}", rows, c.HiddenSize, c.HiddenSize));
            ops.Add(new AttentionOp($"{at}.self_attn.sdpa", batch, c.NumAttentionHeads, tokens, tokens, c.HeadDim));
            ops.Add(new LinearOp($"{at}.mlp.fc1", rows, c.HiddenSize, c.IntermediateSize));
            ops.Add(new LinearOp($"{at}.mlp.fc2", rows, c.IntermediateSize, c.HiddenSize));
        }
        if (c.ProjectionDim is int projection && layers == c.NumHiddenLayers)
            ops.Add(new LinearOp("text_projection", batch, c.HiddenSize, projection));
        return ops;
    }

    /// <summary>
    /// Both SDXL text encoders as the prompt encoder runs them: CLIP ViT-L stops after the penultimate layer
    /// (the last layer is skipped), OpenCLIP bigG runs every layer (its pooled output needs the last one).
    /// </summary>
    public static List<FlopOp> SdxlTextEncoders(ClipTextConfig clipL, ClipTextConfig bigG, long batch = 1) =>
        [.. ClipText(clipL, clipL.NumHiddenLayers - 1, batch, name: ModelComponent.TextEncoder.Name()), .. ClipText(bigG, bigG.NumHiddenLayers, batch, name: ModelComponent.TextEncoder2.Name())];

    /// <summary>Sum of FLOPs.</summary>
    public static double Total(IEnumerable<FlopOp> ops) => ops.Sum(o => o.Flops);

    /// <summary>Sum of FLOPs of one kind.</summary>
    public static double Total(IEnumerable<FlopOp> ops, OpKind kind) => ops.Where(o => o.Kind == kind).Sum(o => o.Flops);

    private static void Resnet(List<FlopOp> ops, string at, long batch, long input, long output, long? timeEmbed, long h, long w)
    {
        ops.Add(new ConvOp($"{at}.conv1", batch, input, output, 3, 1, h, w));
        if (timeEmbed is long t) ops.Add(new LinearOp($"{at}.time_emb_proj", batch, t, output));
        ops.Add(new ConvOp($"{at}.conv2", batch, output, output, 3, 1, h, w));
        if (input != output) ops.Add(new ConvOp($"{at}.conv_shortcut", batch, input, output, 1, 1, h, w));
    }

    private static void Transformer(List<FlopOp> ops, string at, long batch, long channels, long heads, int depth, long contextDim,
        long textTokens, long h, long w)
    {
        var tokens = batch * h * w;
        var headDim = channels / heads;
        ops.Add(new LinearOp($"{at}.proj_in", tokens, channels, channels));
        for (var b = 0; b < depth; b++)
        {
            var block = $"{at}.transformer_blocks.{b}";
            foreach (var p in new[] { "to_q", "to_k", "to_v" }) ops.Add(new LinearOp($"{block}.attn1.{p}", tokens, channels, channels));
            ops.Add(new AttentionOp($"{block}.attn1.sdpa", batch, heads, h * w, h * w, headDim));
            ops.Add(new LinearOp($"{block}.attn1.to_out.0", tokens, channels, channels));
            ops.Add(new LinearOp($"{block}.attn2.to_q", tokens, channels, channels));
            ops.Add(new LinearOp($"{block}.attn2.to_k", batch * textTokens, contextDim, channels));
            ops.Add(new LinearOp($"{block}.attn2.to_v", batch * textTokens, contextDim, channels));
            ops.Add(new AttentionOp($"{block}.attn2.sdpa", batch, heads, h * w, textTokens, headDim));
            ops.Add(new LinearOp($"{block}.attn2.to_out.0", tokens, channels, channels));
            ops.Add(new LinearOp($"{block}.ff.net.0.proj", tokens, channels, channels * 8));
            ops.Add(new LinearOp($"{block}.ff.net.2", tokens, channels * 4, channels));
        }
        ops.Add(new LinearOp($"{at}.proj_out", tokens, channels, channels));
    }
}
