using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Vae;

/// <summary>
/// diffusers <c>UNetMidBlock2D</c> as the VAE uses it (no time embedding, eps 1e-6): <c>resnets.0</c>, a
/// single-head spatial self-attention <c>attentions.0</c> (GroupNorm, biased q/k/v/out, residual), <c>resnets.1</c>.
/// </summary>
internal sealed class VaeMidBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ModuleList<Attention>? attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
#pragma warning restore IDE1006

    /// <summary>Creates the mid block over <paramref name="channels"/>.</summary>
    public VaeMidBlock(long channels, long groups, bool addAttention, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeMidBlock))
    {
        const double eps = 1e-6;
        resnets = nn.ModuleList(Enumerable.Range(0, 2).Select(_ => new ResnetBlock2D(channels, channels, null, groups, eps, 1.0, device, dtype)).ToArray());
        if (addAttention)
            attentions = nn.ModuleList(new Attention(channels, null, heads: 1, headDim: channels, qkvBias: true,
                spatialGroupNorm: (groups, eps), device: device, dtype: dtype));
        RegisterComponents();
    }

    /// <summary>Runs resnet, attention, resnet on <c>[B, C, H, W]</c>.</summary>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var h = resnets[0].call(hidden, null);
        if (attentions is not null) h = Intermediates.Advance(h, attentions[0].call(h, null), hidden);
        h = Intermediates.Advance(h, resnets[1].call(h, null), hidden);
        return h.MoveToOuterDisposeScope();
    }
}
