using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>
/// diffusers <c>UNetMidBlock2DCrossAttn</c> (one attention): <c>resnets.0</c>, <c>attentions.0</c>,
/// <c>resnets.1</c> at the lowest resolution; or <c>UNetMidBlock2D</c> as UNet2DConditionModel builds it
/// (<c>num_layers=0</c>, no attention): <c>resnets.0</c> alone (SSD-1B, Segmind Vega).
/// </summary>
internal sealed class UNetMidBlock : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ModuleList<Transformer2DModel>? attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
#pragma warning restore IDE1006

    /// <summary>Creates the mid block of <paramref name="config"/>.</summary>
    public UNetMidBlock(UNetConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(UNetMidBlock))
    {
        var channels = config.BlockOutChannels[^1];
        var withAttention = config.MidBlockType == UNetConfig.CrossAttnMidBlock;
        resnets = nn.ModuleList(Enumerable.Range(0, withAttention ? 2 : 1).Select(_ => new ResnetBlock2D(channels, channels, config.TimeEmbedDim,
            config.NormNumGroups, config.NormEps, config.MidBlockScaleFactor, device, dtype)).ToArray());
        if (withAttention) attentions = nn.ModuleList(new Transformer2DModel(channels, config.AttentionHeads[^1], config.TransformerLayersPerBlock[^1][0],
            config.CrossAttentionDim[^1], config.NormNumGroups, config.UseLinearProjection, device, dtype));
        RegisterComponents();
    }

    /// <summary>Runs resnet, transformer, resnet.</summary>
    public override Tensor forward(Tensor hidden, Tensor timeEmbedding, Tensor context)
    {
        using var scope = NewDisposeScope();
        hidden = resnets[0].call(hidden, timeEmbedding);
        if (attentions is null) return hidden.MoveToOuterDisposeScope();
        hidden = attentions[0].call(hidden, context);
        hidden = resnets[1].call(hidden, timeEmbedding);
        return hidden.MoveToOuterDisposeScope();
    }
}
