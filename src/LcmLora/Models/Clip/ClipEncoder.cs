using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Clip;

/// <summary>The stack of CLIP text layers (transformers' <c>CLIPEncoder</c>, parameters under <c>layers.N</c>).</summary>
internal sealed class ClipEncoder : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the transformers parameter path segments
    private readonly ModuleList<ClipEncoderLayer> layers;
#pragma warning restore IDE1006

    /// <summary>Creates <see cref="ClipTextConfig.NumHiddenLayers"/> layers.</summary>
    public ClipEncoder(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(ClipEncoder))
    {
        layers = new ModuleList<ClipEncoderLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++) layers.Add(new ClipEncoderLayer(config, device, dtype));
        RegisterComponents();
    }

    /// <summary>The layers, in order.</summary>
    internal IList<ClipEncoderLayer> Layers => layers;

    /// <summary>Runs every layer over <c>[B, S, hidden]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var layer in layers) h = layer.call(h);
        return h.MoveToOuterDisposeScope();
    }
}
