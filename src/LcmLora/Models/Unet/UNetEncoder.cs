using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>
/// The encoder half of a diffusers <c>UNet2DConditionModel</c>: <c>conv_in</c>, the timestep and <c>text_time</c>
/// embeddings, the down blocks and the mid block. <see cref="SdxlUNet"/> and <see cref="ControlNet.SdxlControlNet"/>
/// (diffusers' <c>ControlNetModel</c> is this half plus zero-convolutions) each own one and register its modules
/// under the diffusers parameter names, so both models are built from the same code.
/// </summary>
internal sealed class UNetEncoder : IDisposable
{
    private readonly Conv2d _convIn;
    private readonly TimestepEmbedding _timeEmbedding;
    private readonly TimestepEmbedding? _addEmbedding;
    private readonly ModuleList<UNetDownBlock> _downBlocks;
    private readonly UNetMidBlock? _midBlock;
    private readonly TimestepSinusoid _timeProj;
    private readonly TimestepSinusoid? _addTimeProj;

    /// <summary>Builds the encoder half of <paramref name="config"/> (validated by the caller).</summary>
    public UNetEncoder(UNetConfig config, Device? device, ScalarType? dtype)
    {
        Config = config;
        var c0 = config.BlockOutChannels[0];
        _convIn = nn.Conv2d(config.InChannels, c0, config.ConvInKernel, stride: 1, padding: (config.ConvInKernel - 1) / 2, device: device, dtype: dtype);
        _timeProj = new TimestepSinusoid(c0, config.FlipSinToCos, config.FreqShift);
        _timeEmbedding = new TimestepEmbedding(c0, config.TimeEmbedDim, device, dtype, config.TimeCondProjDim);
        if (config.HasAddedConditioning)
        {
            _addTimeProj = new TimestepSinusoid(config.AdditionTimeEmbedDim!.Value, config.FlipSinToCos, config.FreqShift);
            _addEmbedding = new TimestepEmbedding(config.ProjectionClassEmbeddingsInputDim!.Value, config.TimeEmbedDim, device, dtype);
        }
        _downBlocks = nn.ModuleList(Enumerable.Range(0, config.Levels).Select(i => new UNetDownBlock(config, i, device, dtype)).ToArray());
        if (config.MidBlockType is not null) _midBlock = new UNetMidBlock(config, device, dtype);
    }

    public UNetConfig Config { get; }

    /// <summary>The dtype of the parameters (inputs are cast to it).</summary>
    public ScalarType ParameterType => _convIn.weight!.dtype;

    /// <summary>Registers the modules on <paramref name="owner"/> under their diffusers names, in diffusers' order.</summary>
    public void RegisterOn(nn.Module owner)
    {
        owner.register_module("conv_in", _convIn);
        owner.register_module("time_embedding", _timeEmbedding);
        if (_addEmbedding is not null) owner.register_module("add_embedding", _addEmbedding);
        owner.register_module("down_blocks", _downBlocks);
        if (_midBlock is not null) owner.register_module("mid_block", _midBlock);
    }

    /// <summary>Channels of each skip connection the down blocks produce, in order (conv_in's output first).</summary>
    public IReadOnlyList<int> SkipChannels()
    {
        var channels = new List<int> { Config.BlockOutChannels[0] };
        for (var i = 0; i < Config.Levels; i++)
        {
            channels.AddRange(Enumerable.Repeat(Config.BlockOutChannels[i], Config.LayersPerBlock[i]));
            if (i < Config.Levels - 1) channels.Add(Config.BlockOutChannels[i]);
        }
        return channels;
    }

    /// <summary><c>add_embedding(concat(textEmbeds, sinusoid(timeIds)))</c>, <c>[B, time_embed_dim]</c>: once per prompt.</summary>
    public Tensor ConditioningEmbedding(Tensor textEmbeds, Tensor timeIds)
    {
        if (_addEmbedding is null || _addTimeProj is null)
            throw new LcmLoraInputException("This UNet has no added conditioning (addition_embed_type null, as SD 1.x): it takes no text_embeds or time_ids.");
        if (textEmbeds.dim() != 2 || timeIds.dim() != 2 || textEmbeds.shape[0] != timeIds.shape[0])
            throw new LcmLoraInputException(
                $"text_embeds must be [B, P] and time_ids [B, K] with the same B; got [{Shape(textEmbeds)}] and [{Shape(timeIds)}].");
        var width = textEmbeds.shape[1] + timeIds.shape[1] * Config.AdditionTimeEmbedDim!.Value;
        if (width != Config.ProjectionClassEmbeddingsInputDim)
            throw new LcmLoraInputException(
                $"text_embeds width {textEmbeds.shape[1]} + {timeIds.shape[1]} time ids x {Config.AdditionTimeEmbedDim} = {width}, " +
                $"but the add_embedding expects {Config.ProjectionClassEmbeddingsInputDim} (projection_class_embeddings_input_dim).");
        using var scope = NewDisposeScope();
        var batch = textEmbeds.shape[0];
        var timeEmbeds = _addTimeProj.Encode(timeIds.flatten()).reshape(batch, -1);
        var addEmbeds = cat(new[] { textEmbeds.to(ParameterType), timeEmbeds.to(ParameterType) }, -1);
        return _addEmbedding.call(addEmbeds).MoveToOuterDisposeScope();
    }

    /// <summary>Rejects inputs whose shapes do not fit this architecture.</summary>
    public void CheckInputs(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor? conditioningEmbedding, Tensor? timestepCond)
    {
        if (sample.dim() != 4 || sample.shape[1] != Config.InChannels)
            throw new LcmLoraInputException($"sample must be [B, {Config.InChannels}, H, W]; got [{Shape(sample)}].");
        var batch = sample.shape[0];
        if (encoderHiddenStates.dim() != 3 || encoderHiddenStates.shape[0] != batch || encoderHiddenStates.shape[2] != Config.CrossAttentionDim[^1])
            throw new LcmLoraInputException(
                $"encoder_hidden_states must be [{batch}, S, {Config.CrossAttentionDim[^1]}]; got [{Shape(encoderHiddenStates)}].");
        if (Config.HasAddedConditioning != conditioningEmbedding is not null)
            throw new LcmLoraInputException(Config.HasAddedConditioning
                ? "This UNet needs the conditioning embedding (from ConditioningEmbedding)."
                : "This UNet has no added conditioning: pass no conditioning embedding.");
        if (conditioningEmbedding is not null && (conditioningEmbedding.dim() != 2 || conditioningEmbedding.shape[0] != batch || conditioningEmbedding.shape[1] != Config.TimeEmbedDim))
            throw new LcmLoraInputException(
                $"conditioning embedding must be [{batch}, {Config.TimeEmbedDim}] (from ConditioningEmbedding); got [{Shape(conditioningEmbedding)}].");
        if (timestepCond is not null && (timestepCond.dim() != 2 || timestepCond.shape[1] != Config.TimeCondProjDim || timestepCond.shape[0] is var rows && rows != batch && rows != 1))
            throw new LcmLoraInputException(
                $"timestep_cond must be [{batch}, {Config.TimeCondProjDim?.ToString() ?? "(none: this UNet has no time_cond_proj_dim)"}]; got [{Shape(timestepCond)}].");
        if (timestep.numel() != 1 && (timestep.dim() != 1 || timestep.shape[0] != batch))
            throw new LcmLoraInputException($"timestep must hold one value or {batch}; got [{Shape(timestep)}].");
    }

    /// <summary>The embedding every resnet receives: <c>time_embedding(sinusoid(t), timestepCond) + conditioningEmbedding</c>.</summary>
    public Tensor TimeEmbedding(Tensor sample, Tensor timestep, Tensor? conditioningEmbedding, Tensor? timestepCond = null)
    {
        using var scope = NewDisposeScope();
        var batch = sample.shape[0];
        var t = timestep.reshape(-1).to(sample.device).expand(batch);
        var cond = timestepCond is null ? null : timestepCond.to(sample.device).expand(batch, -1);
        var emb = _timeEmbedding.Forward(_timeProj.Encode(t).to(sample.dtype), cond);
        if (conditioningEmbedding is not null) emb = emb + conditioningEmbedding;
        return emb.MoveToOuterDisposeScope();
    }

    /// <summary><c>conv_in</c> (after the optional 2x-1 centring).</summary>
    public Tensor ConvIn(Tensor sample) => _convIn.call(Config.CenterInputSample ? sample * 2 - 1 : sample);

    /// <summary>
    /// Runs the down blocks on <paramref name="hidden"/> (conv_in's output): every skip connection in order,
    /// <paramref name="hidden"/> first; the last one is the input of the mid block. The token is checked before each block.
    /// </summary>
    public List<Tensor> Down(Tensor hidden, Tensor emb, Tensor encoderHiddenStates, CancellationToken cancellationToken = default)
    {
        var skips = new List<Tensor> { hidden };
        foreach (var block in _downBlocks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var states = block.call(hidden, emb, encoderHiddenStates);
            skips.AddRange(states);
            hidden = states[^1];
        }
        return skips;
    }

    /// <summary>The mid block (the input itself when the config has none).</summary>
    public Tensor Mid(Tensor hidden, Tensor emb, Tensor encoderHiddenStates) => _midBlock is null ? hidden : _midBlock.call(hidden, emb, encoderHiddenStates);

    public static string Shape(Tensor t) => string.Join(", ", t.shape);

    /// <summary>Frees the sinusoid tables (the modules belong to the owner and are disposed with it).</summary>
    public void Dispose()
    {
        _timeProj.Dispose();
        _addTimeProj?.Dispose();
    }
}
