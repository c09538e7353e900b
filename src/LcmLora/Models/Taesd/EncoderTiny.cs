using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Taesd;

/// <summary>
/// The tiny autoencoder's encoder (diffusers' <c>EncoderTiny</c>): one <c>layers</c> sequence of a 3x3 conv from
/// the image, then per level a bias-free stride-2 3x3 conv (from the second level on) and that level's blocks,
/// and a final 3x3 conv to the latent channels. Takes an image in [-1, 1] and feeds it as <c>(x + 1) / 2</c>.
/// </summary>
internal sealed class EncoderTiny : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly Sequential layers;
#pragma warning restore IDE1006

    /// <summary>Creates the encoder for <paramref name="config"/>.</summary>
    public EncoderTiny(TaesdConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(EncoderTiny))
    {
        config.Validate();
        var widths = config.EncoderBlockOutChannels;
        var list = new List<nn.Module<Tensor, Tensor>>();
        for (var level = 0; level < widths.Count; level++)
        {
            var width = widths[level];
            list.Add(level == 0
                ? AutoencoderTinyBlock.Conv3x3(config.InChannels, width, device, dtype)
                : AutoencoderTinyBlock.Conv3x3(width, width, device, dtype, stride: 2, bias: false));
            for (var b = 0; b < config.NumEncoderBlocks[level]; b++)
                list.Add(new AutoencoderTinyBlock(width, width, config.ActFn, device, dtype));
        }
        list.Add(AutoencoderTinyBlock.Conv3x3(widths[^1], config.LatentChannels, device, dtype));
        layers = nn.Sequential(list);
        RegisterComponents();
    }

    /// <summary>Encodes <c>[B, in_channels, H, W]</c> in [-1, 1] to latents <c>[B, latent_channels, ceil(H/8), ceil(W/8)]</c>.</summary>
    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        return NarrowConvolution.Run(layers, image.add(1).div(2)).MoveToOuterDisposeScope();
    }
}
