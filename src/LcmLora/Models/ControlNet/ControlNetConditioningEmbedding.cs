using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.ControlNet;

/// <summary>
/// diffusers <c>ControlNetConditioningEmbedding</c>: <c>conv_in</c>, then per width step a 3x3 convolution and a
/// stride-2 3x3 convolution (<c>blocks.2i</c>, <c>blocks.2i+1</c>), SiLU after each, and <c>conv_out</c> (zero-initialised
/// in training) to the UNet's first block width.
/// </summary>
internal sealed class ControlNetConditioningEmbedding : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Conv2d conv_in;
    private readonly ModuleList<Conv2d> blocks;
    private readonly Conv2d conv_out;
#pragma warning restore IDE1006

    public ControlNetConditioningEmbedding(int conditioningChannels, IReadOnlyList<int> widths, int outChannels, Device? device, ScalarType? dtype)
        : base(nameof(ControlNetConditioningEmbedding))
    {
        conv_in = nn.Conv2d(conditioningChannels, widths[0], 3, padding: 1, device: device, dtype: dtype);
        var list = new List<Conv2d>();
        for (var i = 0; i < widths.Count - 1; i++)
        {
            list.Add(nn.Conv2d(widths[i], widths[i], 3, padding: 1, device: device, dtype: dtype));
            list.Add(nn.Conv2d(widths[i], widths[i + 1], 3, stride: 2, padding: 1, device: device, dtype: dtype));
        }
        blocks = nn.ModuleList(list.ToArray());
        conv_out = nn.Conv2d(widths[^1], outChannels, 3, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Control image <c>[B, C, H, W]</c> to features <c>[B, outChannels, H/f, W/f]</c>.</summary>
    public override Tensor forward(Tensor conditioning)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.silu(conv_in.call(conditioning));
        foreach (var block in blocks) x = nn.functional.silu(block.call(x));
        return conv_out.call(x).MoveToOuterDisposeScope();
    }
}
