using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Vae;

/// <summary>
/// diffusers VAE <c>Decoder</c>: <c>conv_in</c>, <c>mid_block</c>, <c>up_blocks</c> (<c>UpDecoderBlock2D</c>:
/// layers_per_block + 1 resnets, then a nearest-2x <c>upsamplers.0</c> on all levels but the last),
/// <c>conv_norm_out</c>, SiLU, <c>conv_out</c>.
/// </summary>
internal sealed class VaeDecoder : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Conv2d conv_in;
    private readonly VaeMidBlock mid_block;
    private readonly ModuleList<UpDecoderBlock> up_blocks;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;
#pragma warning restore IDE1006
    private const double NormEps = 1e-6;
    private readonly long _normGroups;

    /// <summary>Creates the decoder of <paramref name="config"/>.</summary>
    public VaeDecoder(VaeConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeDecoder))
    {
        var reversed = config.BlockOutChannels.Reverse().ToArray();
        var n = reversed.Length;
        conv_in = nn.Conv2d(config.LatentChannels, reversed[0], 3, stride: 1, padding: 1, device: device, dtype: dtype);
        mid_block = new VaeMidBlock(reversed[0], config.NormNumGroups, config.MidBlockAddAttention, device, dtype);
        up_blocks = nn.ModuleList(Enumerable.Range(0, n).Select(i => new UpDecoderBlock(
            i == 0 ? reversed[0] : reversed[i - 1], reversed[i], config.LayersPerBlock + 1, config.NormNumGroups, i < n - 1, device, dtype)).ToArray());
        conv_norm_out = nn.GroupNorm(config.NormNumGroups, reversed[^1], NormEps, affine: true, device: device, dtype: dtype);
        _normGroups = config.NormNumGroups;
        conv_out = nn.Conv2d(reversed[^1], config.OutChannels, 3, stride: 1, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Decodes (post-quant-conv'd) latents <c>[B, latent, h, w]</c> to images <c>[B, C, h*f, w*f]</c>.</summary>
    public override Tensor forward(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var x = conv_in.call(latents);
        x = Intermediates.Advance(x, mid_block.call(x), latents);
        foreach (var block in up_blocks) x = block.ForwardConsuming(x);
        if (BandedConvolution.Applies(x.shape, x.ElementSize))
            x = Intermediates.Advance(x, BandedConvolution.ApplyAfterNormSilu(conv_out, conv_norm_out, _normGroups, NormEps, x), latents);
        else
        {
            x = Intermediates.Advance(x, nn.functional.silu(conv_norm_out.call(x), inplace: true), latents);
            x = Intermediates.Advance(x, CpuConvolution.Call(conv_out, x), latents);
        }
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>UpDecoderBlock2D</c>: resnets without time embedding (eps 1e-6), optional 2x upsampler.</summary>
internal sealed class UpDecoderBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Upsample2D>? upsamplers;
#pragma warning restore IDE1006

    /// <summary>Creates the block.</summary>
    public UpDecoderBlock(long inChannels, long outChannels, int layers, long groups, bool upsample, Device? device = null, ScalarType? dtype = null)
        : base(nameof(UpDecoderBlock))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, layers).Select(i =>
            new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, 1e-6, 1.0, device, dtype)).ToArray());
        if (upsample) upsamplers = nn.ModuleList(new Upsample2D(outChannels, device, dtype));
        RegisterComponents();
    }

    /// <summary>Runs the resnets and the upsampler.</summary>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var h = resnets[0].call(hidden, null);
        return Rest(h).MoveToOuterDisposeScope();
    }

    /// <summary>Like <see cref="forward"/>, disposing <paramref name="hidden"/> as soon as the first resnet allows.</summary>
    public Tensor ForwardConsuming(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return Rest(resnets[0].ForwardConsuming(hidden)).MoveToOuterDisposeScope();
    }

    private Tensor Rest(Tensor h)
    {
        for (var i = 1; i < resnets.Count; i++) h = resnets[i].ForwardConsuming(h);
        if (upsamplers is not null) h = Intermediates.Advance(h, upsamplers[0].call(h), null);
        return h;
    }
}
