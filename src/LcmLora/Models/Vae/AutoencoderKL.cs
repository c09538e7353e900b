using LcmLora.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Vae;

/// <summary>
/// The SDXL VAE: a TorchSharp port of diffusers' <c>AutoencoderKL</c> (encoder, <c>quant_conv</c>,
/// <c>post_quant_conv</c>, decoder) driven by a <see cref="VaeConfig"/>. Parameter names equal the diffusers keys,
/// so a diffusers <c>vae/diffusion_pytorch_model.safetensors</c> loads with an identity map.
/// <para>
/// Scaling is the caller's job, as in diffusers pipelines: <see cref="Decode"/> takes latents already divided by
/// <see cref="VaeConfig.ScalingFactor"/>, and <see cref="Encode"/> returns the unscaled posterior. Images are
/// <c>[B, 3, H, W]</c> in [-1, 1]. Inference only: call under <c>torch.no_grad()</c> or <c>torch.inference_mode()</c>.
/// </para>
/// </summary>
internal sealed class AutoencoderKL : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly VaeEncoder encoder;
    private readonly VaeDecoder decoder;
    private readonly Conv2d? quant_conv;
    private readonly Conv2d? post_quant_conv;
#pragma warning restore IDE1006

    /// <summary>Default overlap between tiles in <see cref="DecodeTiled"/> (diffusers' tile_overlap_factor).</summary>
    public const double DefaultTileOverlap = 0.25;

    /// <summary>Builds the VAE for <paramref name="config"/> (random weights; load real ones with the weight loader).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <param name="device">Where to create the parameters (<c>torch.device("meta")</c> builds without memory).</param>
    /// <param name="dtype">Parameter dtype (default: torch's default, float32; SDXL's VAE needs float32 or bfloat16,
    /// see <see cref="VaeConfig.ForceUpcast"/>).</param>
    public AutoencoderKL(VaeConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(AutoencoderKL))
    {
        config.Validate();
        Config = config;
        var latent2 = 2 * config.LatentChannels;
        encoder = new VaeEncoder(config, device, dtype);
        decoder = new VaeDecoder(config, device, dtype);
        if (config.UseQuantConv) quant_conv = nn.Conv2d(latent2, latent2, 1, device: device, dtype: dtype);
        if (config.UsePostQuantConv) post_quant_conv = nn.Conv2d(config.LatentChannels, config.LatentChannels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The architecture and scaling this VAE was built from.</summary>
    public VaeConfig Config { get; }

    /// <summary>Whether a parameter name (as in <c>state_dict</c>) belongs to the encoding half: <c>encoder.*</c> or <c>quant_conv.*</c>.</summary>
    public static bool IsEncoderParameter(string name) =>
        name.StartsWith("encoder.", StringComparison.Ordinal) || name.StartsWith("quant_conv.", StringComparison.Ordinal);

    /// <summary>False when the encoder was left on the meta device by a decoder-only load.</summary>
    public bool HasEncoderWeights => encoder.parameters().All(p => p.device_type != DeviceType.META);

    /// <summary>Reconstructs <paramref name="image"/> through the posterior mean (diffusers' forward with
    /// sample_posterior=False).</summary>
    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        using var posterior = Encode(image);
        return Decode(posterior.Mean).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Encodes images <c>[B, in_channels, H, W]</c> in [-1, 1] (H and W multiples of <see cref="VaeConfig.DownscaleFactor"/>)
    /// to the posterior over unscaled latents <c>[B, latent_channels, H/f, W/f]</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The encoder's weights were not loaded (see <see cref="HasEncoderWeights"/>).</exception>
    public DiagonalGaussianDistribution Encode(Tensor image)
    {
        CheckInput(image, Config.InChannels, "image");
        if (!HasEncoderWeights)
            throw new InvalidOperationException("This VAE's encoder weights were not loaded (SdxlCheckpoint.Load with vaeEncoder: false); " +
                "load them with SdxlCheckpoint.LoadVaeEncoder before encoding.");
        using var scope = NewDisposeScope();
        var moments = encoder.call(image);
        if (quant_conv is not null) moments = NarrowConvolution.Call(quant_conv, moments);
        var posterior = new DiagonalGaussianDistribution(moments);
        posterior.Mean.MoveToOuterDisposeScope();
        posterior.LogVar.MoveToOuterDisposeScope();
        posterior.Std.MoveToOuterDisposeScope();
        return posterior;
    }

    /// <summary>
    /// Decodes latents <c>[B, latent_channels, h, w]</c> to images <c>[B, out_channels, h*f, w*f]</c> (about [-1, 1]).
    /// The latents must already be divided by <see cref="VaeConfig.ScalingFactor"/> (diffusers:
    /// <c>vae.decode(latents / vae.config.scaling_factor)</c>).
    /// </summary>
    public Tensor Decode(Tensor latents)
    {
        CheckInput(latents, Config.LatentChannels, "latents");
        using var scope = NewDisposeScope();
        var z = post_quant_conv is null ? latents : NarrowConvolution.Call(post_quant_conv, latents);
        return decoder.call(z).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Decodes like <see cref="Decode"/> but in overlapping tiles, diffusers' <c>tiled_decode</c> exactly, to bound
    /// memory on large images. Tiles are <paramref name="tileSampleSize"/> pixels
    /// (<paramref name="tileSampleSize"/> / <see cref="VaeConfig.DownscaleFactor"/> latents) and overlap by
    /// <paramref name="overlap"/>; seams are blended linearly, so the result differs slightly from a plain decode.
    /// Latents that fit in one tile are decoded plainly, as diffusers does.
    /// </summary>
    /// <param name="latents">Latents already divided by the scaling factor.</param>
    /// <param name="tileSampleSize">Tile size in pixels (default: the config's sample_size, as diffusers).</param>
    /// <param name="overlap">Fraction of a tile shared with its neighbour, in [0, 1).</param>
    public Tensor DecodeTiled(Tensor latents, int? tileSampleSize = null, double overlap = DefaultTileOverlap)
    {
        CheckInput(latents, Config.LatentChannels, "latents");
        var tileSample = tileSampleSize ?? Config.SampleSize;
        var tileLatent = tileSample / Config.DownscaleFactor;
        if (tileLatent < 1)
            throw new LcmLoraInputException($"Tile size {tileSample} px is smaller than one latent ({Config.DownscaleFactor} px).");
        if (!(overlap >= 0 && overlap < 1))
            throw new LcmLoraInputException($"Tile overlap must be in [0, 1); got {overlap}.");
        if (latents.shape[2] <= tileLatent && latents.shape[3] <= tileLatent) return Decode(latents);
        return TiledDecoding.Decode(latents, tileLatent, tileSample, overlap, Decode);
    }

    private static void CheckInput(Tensor t, int channels, string what)
    {
        if (t.dim() != 4 || t.shape[1] != channels)
            throw new LcmLoraInputException($"{what} must be [B, {channels}, H, W]; got [{string.Join(", ", t.shape)}].");
    }
}
