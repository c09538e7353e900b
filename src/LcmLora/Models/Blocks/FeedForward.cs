using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// diffusers <c>FeedForward</c> with the GEGLU activation: <c>net.0</c> (<see cref="GEGLU"/>, dim to 4*dim),
/// <c>net.1</c> (dropout, a parameter-free identity at inference), <c>net.2</c> (Linear 4*dim to dim).
/// </summary>
internal sealed class FeedForward : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ModuleList<nn.Module<Tensor, Tensor>> net;
#pragma warning restore IDE1006

    /// <summary>Creates the feed-forward for tokens of width <paramref name="dim"/> (inner width 4*dim).</summary>
    public FeedForward(long dim, Device? device = null, ScalarType? dtype = null) : base(nameof(FeedForward))
    {
        var inner = dim * 4;
        net = nn.ModuleList<nn.Module<Tensor, Tensor>>(
            new GEGLU(dim, inner, device, dtype),
            nn.Identity(),
            nn.Linear(inner, dim, hasBias: true, device: device, dtype: dtype));
        RegisterComponents();
    }

    /// <summary>Applies the feed-forward to <c>[B, N, dim]</c>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return net[2].call(net[0].call(input)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers <c>GEGLU</c>: one Linear <c>proj</c> to twice the output width, split in half into value and gate,
/// output = value * gelu(gate) (exact erf GELU).
/// </summary>
internal sealed class GEGLU : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Linear proj;
#pragma warning restore IDE1006

    /// <summary>Creates the gated projection from <paramref name="dimIn"/> to <paramref name="dimOut"/>.</summary>
    public GEGLU(long dimIn, long dimOut, Device? device = null, ScalarType? dtype = null) : base(nameof(GEGLU))
    {
        proj = nn.Linear(dimIn, dimOut * 2, hasBias: true, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Applies the gated projection to <c>[..., dimIn]</c>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var halves = proj.call(input).chunk(2, -1);
        return (halves[0] * nn.functional.gelu(halves[1])).MoveToOuterDisposeScope();
    }
}
