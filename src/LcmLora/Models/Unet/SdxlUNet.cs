using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>
/// The SDXL denoising UNet: a TorchSharp port of diffusers' <c>UNet2DConditionModel</c> with
/// <c>addition_embed_type = "text_time"</c>, driven by a <see cref="UNetConfig"/> (the same code serves the tiny
/// test model and full-size SDXL base). Parameter names equal the diffusers keys, so a diffusers
/// <c>unet/diffusion_pytorch_model.safetensors</c> loads with an identity map.
/// <para>
/// Per denoising step only the timestep changes; compute <see cref="ConditioningEmbedding"/> once per prompt and
/// call <see cref="Denoise"/> per step. <see cref="forward"/> does both, like diffusers' <c>unet(...)</c>.
/// Inference only: call under <c>torch.no_grad()</c> or <c>torch.inference_mode()</c>.
/// </para>
/// </summary>
public sealed class SdxlUNet : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Conv2d conv_in;
    private readonly TimestepEmbedding time_embedding;
    private readonly TimestepEmbedding add_embedding;
    private readonly ModuleList<UNetDownBlock> down_blocks;
    private readonly UNetMidBlock mid_block;
    private readonly ModuleList<UNetUpBlock> up_blocks;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;
#pragma warning restore IDE1006
    private readonly TimestepSinusoid _timeProj;
    private readonly TimestepSinusoid _addTimeProj;

    /// <summary>Builds the UNet for <paramref name="config"/> (random weights; load real ones with the weight loader).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <param name="device">Where to create the parameters (<c>torch.device("meta")</c> builds without memory).</param>
    /// <param name="dtype">Parameter dtype (default: torch's default, float32).</param>
    public SdxlUNet(UNetConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(SdxlUNet))
    {
        config.Validate();
        Config = config;
        var c0 = config.BlockOutChannels[0];
        conv_in = nn.Conv2d(config.InChannels, c0, config.ConvInKernel, stride: 1, padding: (config.ConvInKernel - 1) / 2, device: device, dtype: dtype);
        _timeProj = new TimestepSinusoid(c0, config.FlipSinToCos, config.FreqShift);
        time_embedding = new TimestepEmbedding(c0, config.TimeEmbedDim, device, dtype);
        _addTimeProj = new TimestepSinusoid(config.AdditionTimeEmbedDim, config.FlipSinToCos, config.FreqShift);
        add_embedding = new TimestepEmbedding(config.ProjectionClassEmbeddingsInputDim, config.TimeEmbedDim, device, dtype);
        down_blocks = nn.ModuleList(Enumerable.Range(0, config.Levels).Select(i => new UNetDownBlock(config, i, device, dtype)).ToArray());
        mid_block = new UNetMidBlock(config, device, dtype);
        up_blocks = nn.ModuleList(Enumerable.Range(0, config.Levels).Select(i => new UNetUpBlock(config, i, device, dtype)).ToArray());
        conv_norm_out = nn.GroupNorm(config.NormNumGroups, c0, config.NormEps, affine: true, device: device, dtype: dtype);
        conv_out = nn.Conv2d(c0, config.OutChannels, config.ConvOutKernel, stride: 1, padding: (config.ConvOutKernel - 1) / 2, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The architecture this UNet was built from.</summary>
    public UNetConfig Config { get; }

    /// <summary>
    /// One full UNet call, as diffusers' <c>unet(sample, timestep, encoder_hidden_states,
    /// added_cond_kwargs={"text_embeds", "time_ids"}).sample</c>.
    /// </summary>
    /// <param name="sample">Noisy latents <c>[B, in_channels, H, W]</c>.</param>
    /// <param name="timestep">Timesteps <c>[B]</c> (or one value, broadcast), int64 or float.</param>
    /// <param name="encoderHiddenStates">Text tokens <c>[B, 77, cross_attention_dim]</c>.</param>
    /// <param name="textEmbeds">Pooled text embedding <c>[B, P]</c>.</param>
    /// <param name="timeIds">Micro-conditioning <c>[B, K]</c> (SDXL: original size, crop top-left, target size).</param>
    /// <returns>The predicted noise <c>[B, out_channels, H, W]</c>.</returns>
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor textEmbeds, Tensor timeIds)
    {
        using var scope = NewDisposeScope();
        var conditioning = ConditioningEmbedding(textEmbeds, timeIds);
        return Denoise(sample, timestep, encoderHiddenStates, conditioning).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The step-independent part of the time embedding: <c>add_embedding(concat(textEmbeds, sinusoid(timeIds)))</c>,
    /// <c>[B, time_embed_dim]</c>. It depends only on the prompt and the micro-conditioning, so compute it once per
    /// generation and pass it to <see cref="Denoise"/> at every step.
    /// </summary>
    /// <param name="textEmbeds">Pooled text embedding <c>[B, P]</c>.</param>
    /// <param name="timeIds">Micro-conditioning <c>[B, K]</c>; P + K * addition_time_embed_dim must equal
    /// projection_class_embeddings_input_dim.</param>
    public Tensor ConditioningEmbedding(Tensor textEmbeds, Tensor timeIds)
    {
        if (textEmbeds.dim() != 2 || timeIds.dim() != 2 || textEmbeds.shape[0] != timeIds.shape[0])
            throw new LcmLoraInputException(
                $"text_embeds must be [B, P] and time_ids [B, K] with the same B; got [{Shape(textEmbeds)}] and [{Shape(timeIds)}].");
        var width = textEmbeds.shape[1] + timeIds.shape[1] * Config.AdditionTimeEmbedDim;
        if (width != Config.ProjectionClassEmbeddingsInputDim)
            throw new LcmLoraInputException(
                $"text_embeds width {textEmbeds.shape[1]} + {timeIds.shape[1]} time ids x {Config.AdditionTimeEmbedDim} = {width}, " +
                $"but the UNet's add_embedding expects {Config.ProjectionClassEmbeddingsInputDim} (projection_class_embeddings_input_dim).");
        using var scope = NewDisposeScope();
        var batch = textEmbeds.shape[0];
        var timeEmbeds = _addTimeProj.Encode(timeIds.flatten()).reshape(batch, -1);
        var parameterType = conv_in.weight!.dtype;
        var addEmbeds = cat(new[] { textEmbeds.to(parameterType), timeEmbeds.to(parameterType) }, -1);
        return add_embedding.call(addEmbeds).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One denoising step with a precomputed <see cref="ConditioningEmbedding"/>: the timestep embedding plus
    /// the conditioning embedding drive every resnet; <paramref name="encoderHiddenStates"/> feeds cross-attention.
    /// </summary>
    /// <param name="sample">Noisy latents <c>[B, in_channels, H, W]</c>.</param>
    /// <param name="timestep">Timesteps <c>[B]</c> or a single value (0-d or <c>[1]</c>), int64 or float.</param>
    /// <param name="encoderHiddenStates">Text tokens <c>[B, S, cross_attention_dim]</c>.</param>
    /// <param name="conditioningEmbedding">From <see cref="ConditioningEmbedding"/>, <c>[B, time_embed_dim]</c>.</param>
    /// <returns>The model output <c>[B, out_channels, H, W]</c>.</returns>
    public Tensor Denoise(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor conditioningEmbedding)
    {
        if (sample.dim() != 4 || sample.shape[1] != Config.InChannels)
            throw new LcmLoraInputException($"sample must be [B, {Config.InChannels}, H, W]; got [{Shape(sample)}].");
        var batch = sample.shape[0];
        if (encoderHiddenStates.dim() != 3 || encoderHiddenStates.shape[0] != batch || encoderHiddenStates.shape[2] != Config.CrossAttentionDim[^1])
            throw new LcmLoraInputException(
                $"encoder_hidden_states must be [{batch}, S, {Config.CrossAttentionDim[^1]}]; got [{Shape(encoderHiddenStates)}].");
        if (conditioningEmbedding.dim() != 2 || conditioningEmbedding.shape[0] != batch || conditioningEmbedding.shape[1] != Config.TimeEmbedDim)
            throw new LcmLoraInputException(
                $"conditioning embedding must be [{batch}, {Config.TimeEmbedDim}] (from ConditioningEmbedding); got [{Shape(conditioningEmbedding)}].");
        if (timestep.numel() != 1 && (timestep.dim() != 1 || timestep.shape[0] != batch))
            throw new LcmLoraInputException($"timestep must hold one value or {batch}; got [{Shape(timestep)}].");
        using var scope = NewDisposeScope();
        var t = timestep.reshape(-1).to(sample.device).expand(batch);
        var emb = time_embedding.call(_timeProj.Encode(t).to(sample.dtype));
        emb = emb + conditioningEmbedding;

        var x = Config.CenterInputSample ? sample * 2 - 1 : sample;
        x = conv_in.call(x);
        var skips = new List<Tensor> { x };
        foreach (var block in down_blocks)
        {
            var states = block.call(x, emb, encoderHiddenStates);
            skips.AddRange(states);
            x = states[^1];
        }
        x = mid_block.call(x, emb, encoderHiddenStates);
        foreach (var block in up_blocks)
        {
            var n = block.SkipCount;
            var mine = Enumerable.Range(1, n).Select(k => skips[^k]).ToArray();
            skips.RemoveRange(skips.Count - n, n);
            long[]? upsampleSize = skips.Count > 0 ? new[] { skips[^1].shape[2], skips[^1].shape[3] } : null;
            x = block.call(x, mine, emb, encoderHiddenStates, upsampleSize);
        }
        x = NarrowConvolution.Call(conv_out, nn.functional.silu(conv_norm_out.call(x)));
        return x.MoveToOuterDisposeScope();
    }

    private static string Shape(Tensor t) => string.Join(", ", t.shape);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _timeProj.Dispose();
            _addTimeProj.Dispose();
        }
        base.Dispose(disposing);
    }
}
