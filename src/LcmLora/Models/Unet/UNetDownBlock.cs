using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>
/// diffusers <c>DownBlock2D</c> (resnets only) or <c>CrossAttnDownBlock2D</c> (a <see cref="Transformer2DModel"/>
/// after each resnet), with a stride-2 <c>downsamplers.0</c> on every level but the last. Returns every hidden
/// state it produces (the skip connections, in order); the last one is the block output.
/// </summary>
internal sealed class UNetDownBlock : nn.Module<Tensor, Tensor, Tensor?, Tensor[]>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ModuleList<Transformer2DModel>? attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Downsample2D>? downsamplers;
#pragma warning restore IDE1006

    /// <summary>Creates down block <paramref name="index"/> of <paramref name="config"/>.</summary>
    public UNetDownBlock(UNetConfig config, int index, Device? device = null, ScalarType? dtype = null) : base(nameof(UNetDownBlock))
    {
        var outChannels = config.BlockOutChannels[index];
        var inChannels = index == 0 ? config.BlockOutChannels[0] : config.BlockOutChannels[index - 1];
        var layers = config.LayersPerBlock[index];
        resnets = nn.ModuleList(Enumerable.Range(0, layers).Select(i => new ResnetBlock2D(
            i == 0 ? inChannels : outChannels, outChannels, config.TimeEmbedDim, config.NormNumGroups, config.NormEps,
            1.0, device, dtype)).ToArray());
        if (config.DownBlockTypes[index] == UNetConfig.CrossAttnDownBlock)
            attentions = nn.ModuleList(Enumerable.Range(0, layers).Select(i => new Transformer2DModel(
                outChannels, config.AttentionHeads[index], config.TransformerLayersPerBlock[index][i],
                config.CrossAttentionDim[index], config.NormNumGroups, config.UseLinearProjection, device, dtype)).ToArray());
        if (index < config.Levels - 1)
            downsamplers = nn.ModuleList(new Downsample2D(outChannels, config.DownsamplePadding, device, dtype));
        RegisterComponents();
    }

    /// <summary>Runs the block; returns the states to keep as skips (last = output).</summary>
    public override Tensor[] forward(Tensor hidden, Tensor timeEmbedding, Tensor? context)
    {
        var states = new List<Tensor>(resnets.Count + 1);
        for (var i = 0; i < resnets.Count; i++)
        {
            hidden = resnets[i].call(hidden, timeEmbedding);
            if (attentions is not null)
            {
                using var resnetOut = hidden;
                hidden = attentions[i].call(resnetOut, context ?? throw new ArgumentNullException(nameof(context)));
            }
            states.Add(hidden);
        }
        if (downsamplers is not null) states.Add(downsamplers[0].call(hidden));
        return states.ToArray();
    }
}
