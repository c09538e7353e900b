using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>
/// The denoising UNet: a TorchSharp port of diffusers' <c>UNet2DConditionModel</c>, driven by a <see cref="UNetConfig"/>.
/// One class serves the SDXL family (<c>addition_embed_type = "text_time"</c>: base, refiner, inpainting, SSD-1B,
/// Vega), SD 1.x (no added conditioning, 1x1-convolution projections) and full LCM UNets (<c>time_cond_proj_dim</c>:
/// a guidance-scale embedding added to the timestep features), from the tiny test models to full size. Parameter names equal the diffusers keys, so a diffusers
/// <c>unet/diffusion_pytorch_model.safetensors</c> loads with an identity map.
/// <para>
/// Per denoising step only the timestep changes; compute <see cref="ConditioningEmbedding"/> once per prompt and
/// call <see cref="Denoise"/> per step. <see cref="forward"/> does both, like diffusers' <c>unet(...)</c>.
/// Inference only: call under <c>torch.no_grad()</c> or <c>torch.inference_mode()</c>.
/// </para>
/// </summary>
internal sealed class SdxlUNet : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ModuleList<UNetUpBlock> up_blocks;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;
#pragma warning restore IDE1006
    private readonly UNetEncoder _encoder;

    /// <summary>Builds the UNet for <paramref name="config"/> (random weights; load real ones with the weight loader).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <param name="device">Where to create the parameters (<c>torch.device("meta")</c> builds without memory).</param>
    /// <param name="dtype">Parameter dtype (default: torch's default, float32).</param>
    public SdxlUNet(UNetConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(SdxlUNet))
    {
        config.Validate();
        Config = config;
        var c0 = config.BlockOutChannels[0];
        // conv_in, time_embedding, add_embedding, down_blocks, mid_block: the half a ControlNet shares.
        _encoder = new UNetEncoder(config, device, dtype);
        _encoder.RegisterOn(this);
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
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor textEmbeds, Tensor timeIds) =>
        Forward(sample, timestep, encoderHiddenStates, textEmbeds, timeIds);

    /// <summary>
    /// One full UNet call for any configuration, as diffusers' <c>unet(sample, timestep, encoder_hidden_states,
    /// timestep_cond=..., added_cond_kwargs=...)</c>: <paramref name="textEmbeds"/> and <paramref name="timeIds"/> are
    /// required exactly when the UNet has added conditioning (SDXL family), <paramref name="timestepCond"/> is the
    /// guidance embedding of a full LCM UNet.
    /// </summary>
    public Tensor Forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor? textEmbeds = null, Tensor? timeIds = null, Tensor? timestepCond = null)
    {
        using var scope = NewDisposeScope();
        Tensor? conditioning = null;
        if (Config.HasAddedConditioning)
            conditioning = ConditioningEmbedding(
                textEmbeds ?? throw new LcmLoraInputException("This UNet (addition_embed_type text_time) needs text_embeds and time_ids."),
                timeIds ?? throw new LcmLoraInputException("This UNet (addition_embed_type text_time) needs text_embeds and time_ids."));
        return Denoise(sample, timestep, encoderHiddenStates, conditioning, timestepCond).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The step-independent part of the time embedding: <c>add_embedding(concat(textEmbeds, sinusoid(timeIds)))</c>,
    /// <c>[B, time_embed_dim]</c>. It depends only on the prompt and the micro-conditioning, so compute it once per
    /// generation and pass it to <see cref="Denoise"/> at every step.
    /// </summary>
    /// <param name="textEmbeds">Pooled text embedding <c>[B, P]</c>.</param>
    /// <param name="timeIds">Micro-conditioning <c>[B, K]</c>; P + K * addition_time_embed_dim must equal
    /// projection_class_embeddings_input_dim.</param>
    public Tensor ConditioningEmbedding(Tensor textEmbeds, Tensor timeIds) => _encoder.ConditioningEmbedding(textEmbeds, timeIds);

    /// <summary>
    /// One denoising step with a precomputed <see cref="ConditioningEmbedding"/>: the timestep embedding plus
    /// the conditioning embedding drive every resnet; <paramref name="encoderHiddenStates"/> feeds cross-attention.
    /// </summary>
    /// <param name="sample">Noisy latents <c>[B, in_channels, H, W]</c>.</param>
    /// <param name="timestep">Timesteps <c>[B]</c> or a single value (0-d or <c>[1]</c>), int64 or float.</param>
    /// <param name="encoderHiddenStates">Text tokens <c>[B, S, cross_attention_dim]</c>.</param>
    /// <param name="conditioningEmbedding">From <see cref="ConditioningEmbedding"/>, <c>[B, time_embed_dim]</c>; null for a
    /// UNet without added conditioning (SD 1.x).</param>
    /// <param name="timestepCond">The guidance embedding <c>[B, time_cond_proj_dim]</c> of a full LCM UNet
    /// (<see cref="GuidanceEmbedding"/>), else null.</param>
    /// <param name="cancellationToken">Checked between blocks, so a long step stops within one block.</param>
    /// <returns>The model output <c>[B, out_channels, H, W]</c>.</returns>
    /// <param name="downBlockAdditionalResiduals">Optional ControlNet residuals, one per skip connection (see
    /// <see cref="ControlNet.SdxlControlNet"/>), added to the skips as diffusers' <c>down_block_additional_residuals</c>.</param>
    /// <param name="midBlockAdditionalResidual">Optional ControlNet residual added to the mid block's output.</param>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public Tensor Denoise(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor? conditioningEmbedding, Tensor? timestepCond = null,
        CancellationToken cancellationToken = default, IReadOnlyList<Tensor>? downBlockAdditionalResiduals = null, Tensor? midBlockAdditionalResidual = null)
    {
        _encoder.CheckInputs(sample, timestep, encoderHiddenStates, conditioningEmbedding, timestepCond);
        using var scope = NewDisposeScope();
        var emb = _encoder.TimeEmbedding(sample, timestep, conditioningEmbedding, timestepCond);
        var skips = _encoder.Down(_encoder.ConvIn(sample), emb, encoderHiddenStates, cancellationToken);
        var x = skips[^1]; // the mid block takes the last state before any residual is added, as diffusers
        if (downBlockAdditionalResiduals is not null)
        {
            if (downBlockAdditionalResiduals.Count != skips.Count)
                throw new LcmLoraInputException($"down_block_additional_residuals must hold {skips.Count} tensors (one per skip connection); got {downBlockAdditionalResiduals.Count}.");
            for (var i = 0; i < skips.Count; i++) skips[i] = skips[i] + downBlockAdditionalResiduals[i];
        }
        cancellationToken.ThrowIfCancellationRequested();
        x = _encoder.Mid(x, emb, encoderHiddenStates);
        if (midBlockAdditionalResidual is not null) x = x + midBlockAdditionalResidual;
        foreach (var block in up_blocks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = block.SkipCount;
            var mine = Enumerable.Range(1, n).Select(k => skips[^k]).ToArray();
            skips.RemoveRange(skips.Count - n, n);
            long[]? upsampleSize = skips.Count > 0 ? new[] { skips[^1].shape[2], skips[^1].shape[3] } : null;
            x = block.call(x, mine, emb, encoderHiddenStates, upsampleSize);
        }
        x = NarrowConvolution.Call(conv_out, nn.functional.silu(conv_norm_out.call(x)));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// diffusers' <c>get_guidance_scale_embedding(w, embedding_dim)</c> for full LCM UNets: w * 1000 times the
    /// frequencies exp(-ln(10000) i / (half - 1)), as [sin, cos] (zero-padded to an odd width), float32 <c>[B, dim]</c>.
    /// The pipelines pass <c>w = guidance_scale - 1</c>.
    /// </summary>
    public static Tensor GuidanceEmbedding(IReadOnlyList<double> w, int dim, Device? device = null)
    {
        if (dim < 2) throw new ArgumentOutOfRangeException(nameof(dim), dim, "The guidance embedding needs at least 2 dimensions.");
        using var scope = NewDisposeScope();
        var half = dim / 2;
        // Every value in float32 as torch computes it (w is a float32 tensor before the * 1000; the step a float32 scalar).
        var values = tensor(w.Select(v => (float)v * 1000f).ToArray(), device: device);
        var step = (float)Math.Log(10000.0) / (half - 1);
        var frequencies = (arange(0, half, ScalarType.Float32, device) * (-step)).exp();
        var angles = values.unsqueeze(1) * frequencies.unsqueeze(0);
        var emb = cat(new[] { angles.sin(), angles.cos() }, 1);
        if (dim % 2 == 1) emb = nn.functional.pad(emb, new long[] { 0, 1 });
        return emb.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _encoder.Dispose();
        base.Dispose(disposing);
    }
}
