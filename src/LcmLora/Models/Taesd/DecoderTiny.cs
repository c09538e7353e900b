using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Taesd;

/// <summary>
/// The tiny autoencoder's decoder (diffusers' <c>DecoderTiny</c>): soft-clamps the latents with
/// <c>tanh(x / 3) * 3</c>, then one <c>layers</c> sequence: 3x3 conv, activation, and per level its blocks, a
/// nearest upsample and a bias-free 3x3 conv (the last level: no upsample, a biased conv to the image channels).
/// The sequence yields an image in [0, 1] (unclamped); <see cref="forward"/> returns it as <c>x * 2 - 1</c>.
/// </summary>
internal sealed class DecoderTiny : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Sequential layers;
#pragma warning restore IDE1006

    /// <summary>Creates the decoder for <paramref name="config"/>.</summary>
    public DecoderTiny(TaesdConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(DecoderTiny))
    {
        config.Validate();
        var widths = config.DecoderBlockOutChannels;
        var factor = (double)config.UpsamplingScalingFactor;
        var list = new List<nn.Module<Tensor, Tensor>>
        {
            AutoencoderTinyBlock.Conv3x3(config.LatentChannels, widths[0], device, dtype),
            config.ActFn.CreateLayer(),
        };
        for (var level = 0; level < widths.Count; level++)
        {
            var width = widths[level];
            var last = level == widths.Count - 1;
            for (var b = 0; b < config.NumDecoderBlocks[level]; b++)
                list.Add(new AutoencoderTinyBlock(width, width, config.ActFn, device, dtype));
            if (!last) list.Add(nn.Upsample(scale_factor: [factor, factor], mode: UpsampleMode.Nearest));
            list.Add(AutoencoderTinyBlock.Conv3x3(width, last ? config.OutChannels : width, device, dtype, bias: last));
        }
        layers = nn.Sequential(list);
        RegisterComponents();
    }

    /// <summary>Decodes latents <c>[B, latent_channels, h, w]</c> to an image in [-1, 1] (not clamped), as diffusers.</summary>
    public override Tensor forward(Tensor latents)
    {
        using var scope = NewDisposeScope();
        return DecodeUnit(latents).mul(2).sub(1).MoveToOuterDisposeScope();
    }

    /// <summary>The decoder's own output, nominally in [0, 1] (not clamped): the image before <c>x * 2 - 1</c>.</summary>
    public Tensor DecodeUnit(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var clamped = torch.tanh(latents.div(3)).mul(3);
        return NarrowConvolution.Run(layers, clamped).MoveToOuterDisposeScope();
    }
}
