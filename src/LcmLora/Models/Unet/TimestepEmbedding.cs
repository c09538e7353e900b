using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>diffusers <c>TimestepEmbedding</c>: <c>linear_1</c>, SiLU, <c>linear_2</c>.</summary>
internal sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Linear linear_1;
    private readonly Linear linear_2;
#pragma warning restore IDE1006

    /// <summary>Creates the MLP from <paramref name="inChannels"/> to <paramref name="embedDim"/>.</summary>
    public TimestepEmbedding(long inChannels, long embedDim, Device? device = null, ScalarType? dtype = null) : base(nameof(TimestepEmbedding))
    {
        linear_1 = nn.Linear(inChannels, embedDim, hasBias: true, device: device, dtype: dtype);
        linear_2 = nn.Linear(embedDim, embedDim, hasBias: true, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Projects <c>[B, inChannels]</c> to <c>[B, embedDim]</c>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return linear_2.call(nn.functional.silu(linear_1.call(input))).MoveToOuterDisposeScope();
    }
}
