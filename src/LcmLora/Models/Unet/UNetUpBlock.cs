using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>
/// diffusers <c>UpBlock2D</c> or <c>CrossAttnUpBlock2D</c>: layers_per_block + 1 resnets, each fed the running
/// state concatenated (on channels) with the next skip connection, a <see cref="Transformer2DModel"/> after each
/// resnet for the cross-attention form, and an <c>upsamplers.0</c> on every level but the last.
/// </summary>
internal sealed class UNetUpBlock : nn.Module<Tensor, IReadOnlyList<Tensor>, Tensor, Tensor?, long[]?, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ModuleList<Transformer2DModel>? attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Upsample2D>? upsamplers;
#pragma warning restore IDE1006

    /// <summary>Creates up block <paramref name="index"/> of <paramref name="config"/>.</summary>
    public UNetUpBlock(UNetConfig config, int index, Device? device = null, ScalarType? dtype = null) : base(nameof(UNetUpBlock))
    {
        var n = config.Levels;
        var level = n - 1 - index;
        var outChannels = config.BlockOutChannels[level];
        var prevOutChannels = config.BlockOutChannels[Math.Min(level + 1, n - 1)];
        var skipInChannels = config.BlockOutChannels[Math.Max(level - 1, 0)];
        var layers = config.LayersPerBlock[level] + 1;
        resnets = nn.ModuleList(Enumerable.Range(0, layers).Select(i =>
        {
            var skipChannels = i == layers - 1 ? skipInChannels : outChannels;
            var resnetIn = i == 0 ? prevOutChannels : outChannels;
            return new ResnetBlock2D(resnetIn + skipChannels, outChannels, config.TimeEmbedDim, config.NormNumGroups,
                config.NormEps, 1.0, device, dtype);
        }).ToArray());
        if (config.UpBlockTypes[index] == UNetConfig.CrossAttnUpBlock)
            attentions = nn.ModuleList(Enumerable.Range(0, layers).Select(i => new Transformer2DModel(
                outChannels, config.AttentionHeads[level], config.ReverseTransformerLayersPerBlock[index][i],
                config.CrossAttentionDim[level], config.NormNumGroups, config.UseLinearProjection, device, dtype)).ToArray());
        if (index < n - 1) upsamplers = nn.ModuleList(new Upsample2D(outChannels, device, dtype));
        RegisterComponents();
    }

    /// <summary>Number of skip connections the block consumes.</summary>
    public int SkipCount => resnets.Count;

    /// <summary>
    /// Runs the block. <paramref name="skips"/> are consumed first to last (pass them most recent first);
    /// <paramref name="upsampleSize"/> is the (height, width) to upsample to, or null for 2x.
    /// </summary>
    public override Tensor forward(Tensor hidden, IReadOnlyList<Tensor> skips, Tensor timeEmbedding, Tensor? context, long[]? upsampleSize)
    {
        if (skips.Count != resnets.Count) throw new ArgumentException($"Expected {resnets.Count} skip tensors, got {skips.Count}.", nameof(skips));
        using var scope = NewDisposeScope();
        for (var i = 0; i < resnets.Count; i++)
        {
            hidden = resnets[i].call(cat(new[] { hidden, skips[i] }, 1), timeEmbedding);
            if (attentions is not null) hidden = attentions[i].call(hidden, context ?? throw new ArgumentNullException(nameof(context)));
        }
        if (upsamplers is not null)
            hidden = upsampleSize is null ? upsamplers[0].call(hidden) : upsamplers[0].Resize(hidden, upsampleSize);
        return hidden.MoveToOuterDisposeScope();
    }
}
