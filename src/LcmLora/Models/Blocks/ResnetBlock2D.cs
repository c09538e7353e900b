using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// diffusers <c>ResnetBlock2D</c> (time_embedding_norm "default", SiLU): GroupNorm, SiLU, 3x3 conv, plus the
/// projected time embedding when the block has one, GroupNorm, SiLU, 3x3 conv, then the (1x1-projected when the
/// channel count changes) input added and the sum divided by the output scale factor.
/// </summary>
internal sealed class ResnetBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly GroupNorm norm1;
    private readonly Conv2d conv1;
    private readonly Linear? time_emb_proj;
    private readonly GroupNorm norm2;
    private readonly Conv2d conv2;
    private readonly Conv2d? conv_shortcut;
#pragma warning restore IDE1006
    private readonly double _outputScaleFactor;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels (a 1x1 <c>conv_shortcut</c> exists when they differ).</param>
    /// <param name="timeEmbeddingChannels">Width of the time embedding, or null for blocks without one (VAE).</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="eps">GroupNorm epsilon.</param>
    /// <param name="outputScaleFactor">The residual sum is divided by this.</param>
    /// <param name="device">Where to create the parameters.</param>
    /// <param name="dtype">Parameter dtype.</param>
    public ResnetBlock2D(long inChannels, long outChannels, long? timeEmbeddingChannels, long groups, double eps,
        double outputScaleFactor = 1.0, Device? device = null, ScalarType? dtype = null) : base(nameof(ResnetBlock2D))
    {
        norm1 = nn.GroupNorm(groups, inChannels, eps, affine: true, device: device, dtype: dtype);
        conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: 1, padding: 1, device: device, dtype: dtype);
        if (timeEmbeddingChannels is long t) time_emb_proj = nn.Linear(t, outChannels, hasBias: true, device: device, dtype: dtype);
        norm2 = nn.GroupNorm(groups, outChannels, eps, affine: true, device: device, dtype: dtype);
        conv2 = nn.Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1, device: device, dtype: dtype);
        if (inChannels != outChannels)
            conv_shortcut = nn.Conv2d(inChannels, outChannels, 1, stride: 1, padding: 0L, device: device, dtype: dtype);
        _outputScaleFactor = outputScaleFactor;
        RegisterComponents();
    }

    /// <summary>Runs the block on <c>[B, C, H, W]</c>; <paramref name="timeEmbedding"/> is <c>[B, T]</c> (before SiLU) or null.</summary>
    public override Tensor forward(Tensor input, Tensor? timeEmbedding)
    {
        // Each activation is freed as soon as the next exists and the elementwise steps run in place: the block's
        // peak is two activations, not six (this matters in the VAE decoder at full resolution).
        using var scope = NewDisposeScope();
        var h = nn.functional.silu(norm1.call(input), inplace: true);
        h = Intermediates.Advance(h, conv1.call(h), input);
        if (time_emb_proj is not null)
        {
            if (timeEmbedding is null) throw new InvalidOperationException("This resnet block needs a time embedding.");
            var t = time_emb_proj.call(nn.functional.silu(timeEmbedding));
            h.add_(t.unsqueeze(-1).unsqueeze(-1));
        }
        h = Intermediates.Advance(h, nn.functional.silu(norm2.call(h), inplace: true), input);
        h = Intermediates.Advance(h, conv2.call(h), input);
        if (conv_shortcut is null) h.add_(input);
        else h.add_(conv_shortcut.call(input));
        if (_outputScaleFactor != 1.0) h.div_(_outputScaleFactor);
        return h.MoveToOuterDisposeScope();
    }
}
