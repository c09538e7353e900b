using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Clip;

/// <summary>The feed-forward block of a CLIP text layer: <c>fc2(act(fc1(x)))</c> (transformers' <c>CLIPMLP</c>).</summary>
internal sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the transformers parameter path segments
    private readonly Linear fc1;
    private readonly Linear fc2;
#pragma warning restore IDE1006
    private readonly ClipActivation _activation;

    /// <summary>Creates the MLP for <paramref name="config"/>.</summary>
    public ClipMlp(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(ClipMlp))
    {
        _activation = config.HiddenAct;
        fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: true, device: device, dtype: dtype);
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: true, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Applies the MLP to <c>[..., hidden]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc2.call(_activation.Apply(fc1.call(x))).MoveToOuterDisposeScope();
    }
}
