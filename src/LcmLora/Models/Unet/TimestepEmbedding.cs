using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>
/// diffusers <c>TimestepEmbedding</c>: <c>linear_1</c>, SiLU, <c>linear_2</c>; with a <c>cond_proj_dim</c> (full LCM
/// UNets) a bias-free <c>cond_proj</c> adds the projected guidance embedding to the input first.
/// </summary>
internal sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Linear linear_1;
    private readonly Linear linear_2;
    private readonly Linear? cond_proj;
#pragma warning restore IDE1006

    /// <summary>Creates the MLP from <paramref name="inChannels"/> to <paramref name="embedDim"/>.</summary>
    public TimestepEmbedding(long inChannels, long embedDim, Device? device = null, ScalarType? dtype = null, long? condProjDim = null) : base(nameof(TimestepEmbedding))
    {
        if (condProjDim is { } c) cond_proj = nn.Linear(c, inChannels, hasBias: false, device: device, dtype: dtype);
        linear_1 = nn.Linear(inChannels, embedDim, hasBias: true, device: device, dtype: dtype);
        linear_2 = nn.Linear(embedDim, embedDim, hasBias: true, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Projects <c>[B, inChannels]</c> to <c>[B, embedDim]</c>.</summary>
    public override Tensor forward(Tensor input) => Forward(input, null);

    /// <summary>Projects <c>[B, inChannels]</c>, plus <c>cond_proj(condition)</c> when given, to <c>[B, embedDim]</c>.</summary>
    public Tensor Forward(Tensor input, Tensor? condition)
    {
        using var scope = NewDisposeScope();
        if (condition is not null)
        {
            if (cond_proj is null) throw new LcmLoraInputException("timestep_cond was given, but this UNet has no time_cond_proj_dim (not a full LCM UNet).");
            input = input + cond_proj.call(condition.to(input.dtype));
        }
        return linear_2.call(nn.functional.silu(linear_1.call(input))).MoveToOuterDisposeScope();
    }
}
