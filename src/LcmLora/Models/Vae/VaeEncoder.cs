using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Vae;

/// <summary>
/// diffusers VAE <c>Encoder</c>: <c>conv_in</c>, <c>down_blocks</c> (<c>DownEncoderBlock2D</c>: resnets, then a
/// bottom/right-padded stride-2 <c>downsamplers.0</c> on all levels but the last), <c>mid_block</c>,
/// <c>conv_norm_out</c>, SiLU, <c>conv_out</c> to 2 x latent channels (mean and log-variance).
/// </summary>
internal sealed class VaeEncoder : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Conv2d conv_in;
    private readonly ModuleList<DownEncoderBlock> down_blocks;
    private readonly VaeMidBlock mid_block;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;
#pragma warning restore IDE1006

    /// <summary>Creates the encoder of <paramref name="config"/>.</summary>
    public VaeEncoder(VaeConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(VaeEncoder))
    {
        var ch = config.BlockOutChannels;
        var n = ch.Count;
        conv_in = nn.Conv2d(config.InChannels, ch[0], 3, stride: 1, padding: 1, device: device, dtype: dtype);
        down_blocks = nn.ModuleList(Enumerable.Range(0, n).Select(i => new DownEncoderBlock(
            i == 0 ? ch[0] : ch[i - 1], ch[i], config.LayersPerBlock, config.NormNumGroups, i < n - 1, device, dtype)).ToArray());
        mid_block = new VaeMidBlock(ch[^1], config.NormNumGroups, config.MidBlockAddAttention, device, dtype);
        conv_norm_out = nn.GroupNorm(config.NormNumGroups, ch[^1], 1e-6, affine: true, device: device, dtype: dtype);
        conv_out = nn.Conv2d(ch[^1], 2 * config.LatentChannels, 3, stride: 1, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Encodes images <c>[B, C, H, W]</c> to moments <c>[B, 2 x latent, H/f, W/f]</c>.</summary>
    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        var x = conv_in.call(image);
        foreach (var block in down_blocks) x = block.call(x);
        x = mid_block.call(x);
        x = CpuConvolution.Call(conv_out, nn.functional.silu(conv_norm_out.call(x)));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>DownEncoderBlock2D</c>: resnets without time embedding (eps 1e-6), optional downsampler.</summary>
internal sealed class DownEncoderBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Downsample2D>? downsamplers;
#pragma warning restore IDE1006

    /// <summary>Creates the block.</summary>
    public DownEncoderBlock(long inChannels, long outChannels, int layers, long groups, bool downsample, Device? device = null, ScalarType? dtype = null)
        : base(nameof(DownEncoderBlock))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, layers).Select(i =>
            new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, 1e-6, 1.0, device, dtype)).ToArray());
        if (downsample) downsamplers = nn.ModuleList(new Downsample2D(outChannels, padding: 0, device, dtype));
        RegisterComponents();
    }

    /// <summary>Runs the resnets and the downsampler.</summary>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        foreach (var resnet in resnets) hidden = resnet.call(hidden, null);
        if (downsamplers is not null) hidden = downsamplers[0].call(hidden);
        return hidden.MoveToOuterDisposeScope();
    }
}
