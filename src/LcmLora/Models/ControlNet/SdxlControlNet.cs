using LcmLora.Models.Unet;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.ControlNet;

/// <summary>
/// A ControlNet, a TorchSharp port of diffusers' <c>ControlNetModel</c>, for SDXL and SD 1.x alike (the config decides:
/// the name stays from the SDXL-only days): the UNet's encoder half (built by the same <c>UNetEncoder</c> code as
/// <see cref="SdxlUNet"/>: conv_in, the time embedding, the text_time embedding when the config has one (SDXL; SD 1.x
/// has none), down blocks, mid block), a conditioning embedding added after conv_in, and a 1x1 "zero convolution" on
/// every skip connection and on the mid block's output. Its outputs are the residuals the UNet adds to its skips and
/// mid block (<see cref="SdxlUNet.Denoise"/>). Parameter names equal the diffusers keys. Inference only.
/// </summary>
public sealed class SdxlControlNet : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, ControlNetResiduals>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ControlNetConditioningEmbedding controlnet_cond_embedding;
    private readonly ModuleList<Conv2d> controlnet_down_blocks;
    private readonly Conv2d controlnet_mid_block;
#pragma warning restore IDE1006
    private readonly UNetEncoder _encoder;

    /// <summary>Builds the ControlNet for <paramref name="config"/> (random weights; <c>LcmLora.Checkpoints.ComponentCheckpoint.LoadControlNet</c> loads real ones).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <param name="device">Where to create the parameters (<c>torch.device("meta")</c> builds without memory).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    internal SdxlControlNet(ControlNetConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(SdxlControlNet))
    {
        config.Validate();
        Config = config;
        _encoder = new UNetEncoder(config.Unet, device, dtype);
        _encoder.RegisterOn(this);
        controlnet_cond_embedding = new ControlNetConditioningEmbedding(config.ConditioningChannels, config.ConditioningEmbeddingOutChannels,
            config.Unet.BlockOutChannels[0], device, dtype);
        controlnet_down_blocks = nn.ModuleList(_encoder.SkipChannels()
            .Select(c => nn.Conv2d(c, c, 1, device: device, dtype: dtype)).ToArray());
        var mid = config.Unet.BlockOutChannels[^1];
        controlnet_mid_block = nn.Conv2d(mid, mid, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    internal ControlNetConfig Config { get; }

    /// <summary>
    /// One call as diffusers' <c>controlnet(sample, timestep, encoder_hidden_states, controlnet_cond,
    /// conditioning_scale=1, added_cond_kwargs={"text_embeds", "time_ids"})</c>; an SD 1.x ControlNet (no text_time
    /// embedding) takes null for both.
    /// </summary>
    public override ControlNetResiduals forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor controlImage, Tensor? textEmbeds, Tensor? timeIds)
    {
        using var conditioning = textEmbeds is null && timeIds is null ? null
            : ConditioningEmbedding(textEmbeds ?? throw new LcmLoraInputException("time_ids were given without text_embeds."),
                timeIds ?? throw new LcmLoraInputException("text_embeds were given without time_ids."));
        return Residuals(sample, timestep, encoderHiddenStates, conditioning, controlImage, 1.0);
    }

    /// <summary>The step-independent text_time embedding, as <see cref="SdxlUNet.ConditioningEmbedding"/> (the ControlNet has its own copy of the weights).</summary>
    internal Tensor ConditioningEmbedding(Tensor textEmbeds, Tensor timeIds) => _encoder.ConditioningEmbedding(textEmbeds, timeIds);

    /// <summary>
    /// The residuals for one denoising step, already multiplied by <paramref name="scale"/> (diffusers'
    /// <c>conditioning_scale</c>; guess mode is not supported).
    /// </summary>
    /// <param name="sample">The UNet's (scaled) input latents <c>[B, 4, h, w]</c>.</param>
    /// <param name="timestep">Timesteps <c>[B]</c> or one value.</param>
    /// <param name="encoderHiddenStates">Text tokens <c>[B, S, cross_attention_dim]</c>.</param>
    /// <param name="conditioningEmbedding">From <see cref="ConditioningEmbedding"/>; null for a ControlNet without added conditioning (SD 1.x).</param>
    /// <param name="controlImage">The control image <c>[B, 3, h*f, w*f]</c> in [0, 1] (f = <see cref="ControlNetConfig.DownscaleFactor"/>).</param>
    /// <param name="scale">controlnet_conditioning_scale.</param>
    internal ControlNetResiduals Residuals(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor? conditioningEmbedding, Tensor controlImage, double scale)
    {
        _encoder.CheckInputs(sample, timestep, encoderHiddenStates, conditioningEmbedding, null);
        var f = Config.DownscaleFactor;
        if (controlImage.dim() != 4 || controlImage.shape[0] != sample.shape[0] || controlImage.shape[1] != Config.ConditioningChannels
            || controlImage.shape[2] != sample.shape[2] * f || controlImage.shape[3] != sample.shape[3] * f)
            throw new LcmLoraInputException($"The control image must be [{sample.shape[0]}, {Config.ConditioningChannels}, {sample.shape[2] * f}, {sample.shape[3] * f}] " +
                $"for latents [{UNetEncoder.Shape(sample)}]; got [{UNetEncoder.Shape(controlImage)}].");
        using var scope = NewDisposeScope();
        var emb = _encoder.TimeEmbedding(sample, timestep, conditioningEmbedding);
        var cond = controlImage.to(sample.dtype);
        if (Config.BgrConditioning) cond = cond.flip(1);
        var hidden = _encoder.ConvIn(sample) + controlnet_cond_embedding.call(cond);
        var skips = _encoder.Down(hidden, emb, encoderHiddenStates);
        var mid = _encoder.Mid(skips[^1], emb, encoderHiddenStates);
        var down = skips.Select((s, i) => Finish(controlnet_down_blocks[i].call(s), scale)).ToArray();
        var midOut = Finish(controlnet_mid_block.call(mid), scale);
        return new ControlNetResiduals(down, midOut);
    }

    private Tensor Finish(Tensor residual, double scale)
    {
        var scaled = residual * scale;
        if (Config.GlobalPoolConditions) scaled = scaled.mean([2, 3], keepdim: true);
        return scaled.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _encoder.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>What a ControlNet adds to the UNet: one residual per skip connection and one for the mid block.</summary>
/// <param name="Down">diffusers' <c>down_block_res_samples</c> (already scaled).</param>
/// <param name="Mid">diffusers' <c>mid_block_res_sample</c> (already scaled).</param>
public sealed record ControlNetResiduals(IReadOnlyList<Tensor> Down, Tensor Mid) : IDisposable
{
    /// <summary>Adds another ControlNet's residuals (several ControlNets: diffusers' MultiControlNetModel sums them).</summary>
    internal ControlNetResiduals Plus(ControlNetResiduals other) =>
        new(Down.Zip(other.Down, (a, b) => a + b).ToArray(), Mid + other.Mid);

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        foreach (var t in Down) t.Dispose();
        Mid.Dispose();
    }
}
