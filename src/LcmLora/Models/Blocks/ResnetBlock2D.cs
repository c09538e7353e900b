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
    private readonly long _groups;
    private readonly double _eps;

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
        _groups = groups;
        _eps = eps;
        RegisterComponents();
    }

    /// <summary>Runs the block on <c>[B, C, H, W]</c>; <paramref name="timeEmbedding"/> is <c>[B, T]</c> (before SiLU) or null.</summary>
    public override Tensor forward(Tensor input, Tensor? timeEmbedding) => Run(input, timeEmbedding, consume: false);

    /// <summary>
    /// Runs the block (without time embedding) and disposes <paramref name="input"/>, as early as the block allows:
    /// with a projected shortcut, right after the first convolution. For callers that own the input and need it no
    /// longer (the VAE decoder's up blocks, whose full-resolution inputs are the largest tensors of a decode).
    /// </summary>
    public Tensor ForwardConsuming(Tensor input) => Run(input, null, consume: true);

    private Tensor Run(Tensor input, Tensor? timeEmbedding, bool consume)
    {
        if (time_emb_proj is null && BandedConvolution.Applies(input.shape, input.ElementSize)) return RunBanded(input, consume);
        // Each activation is freed as soon as the next exists and the elementwise steps run in place.
        using var scope = NewDisposeScope();
        var shortcut = consume && conv_shortcut is not null ? Shortcut(conv_shortcut, input) : null;
        var h = NormSiluConv(norm1, conv1, input, input);
        if (shortcut is not null) input.Dispose();
        if (time_emb_proj is not null)
        {
            if (timeEmbedding is null) throw new InvalidOperationException("This resnet block needs a time embedding.");
            var t = time_emb_proj.call(nn.functional.silu(timeEmbedding));
            h.add_(t.unsqueeze(-1).unsqueeze(-1));
        }
        h = Intermediates.Advance(h, NormSiluConv(norm2, conv2, h, input), input);
        h.add_(shortcut ?? (conv_shortcut is null ? input : Shortcut(conv_shortcut, input)));
        if (consume) input.Dispose();
        if (_outputScaleFactor != 1.0) h.div_(_outputScaleFactor);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The block on a large activation (the VAE decoder at full resolution): both convolutions run in bands with
    /// GroupNorm and SiLU applied per band; the second writes over the first's output with the shortcut added per
    /// band, so the block holds its input and one activation of the output's size.
    /// </summary>
    private Tensor RunBanded(Tensor input, bool consume)
    {
        using var scope = NewDisposeScope();
        var h = BandedConvolution.ApplyAfterNormSilu(conv1, norm1, _groups, _eps, input);
        var projection = conv_shortcut;
        Func<long, long, Tensor> shortcut = projection is null
            ? (a, b) => input.narrow(2, a, b - a)
            : (a, b) => nn.functional.conv2d(input.narrow(2, a, b - a), projection.weight, projection.bias);
        BandedConvolution.ApplyAfterNormSilu(conv2, norm2, _groups, _eps, h, shortcut, overwriteInput: true);
        if (consume) input.Dispose();
        if (_outputScaleFactor != 1.0) h.div_(_outputScaleFactor);
        return h.MoveToOuterDisposeScope();
    }

    private static Tensor Shortcut(Conv2d projection, Tensor input) =>
        BandedConvolution.Applies(input.shape, input.ElementSize) ? BandedConvolution.Apply(projection, input) : projection.call(input);

    private Tensor NormSiluConv(GroupNorm norm, Conv2d conv, Tensor x, Tensor input)
    {
        if (BandedConvolution.Applies(x.shape, x.ElementSize)) return BandedConvolution.ApplyAfterNormSilu(conv, norm, _groups, _eps, x);
        var activated = nn.functional.silu(norm.call(x), inplace: true);
        return Intermediates.Advance(activated, CpuConvolution.Call(conv, activated), input);
    }
}
