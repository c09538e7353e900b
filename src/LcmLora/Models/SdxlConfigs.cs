using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;

namespace LcmLora.Models;

/// <summary>The architecture of the four SDXL components.</summary>
/// <param name="Unet">The UNet.</param>
/// <param name="TextEncoder">CLIP ViT-L (text_encoder).</param>
/// <param name="TextEncoder2">OpenCLIP ViT-bigG with projection (text_encoder_2).</param>
/// <param name="Vae">The VAE.</param>
public sealed record SdxlConfigs(UNetConfig Unet, ClipTextConfig TextEncoder, ClipTextConfig TextEncoder2, VaeConfig Vae)
{
    /// <summary>Stable Diffusion XL base 1.0 (and its fine-tunes).</summary>
    public static SdxlConfigs SdxlBase { get; } = new(UNetConfig.SdxlBase, ClipTextConfig.SdxlClipL, ClipTextConfig.SdxlBigG, VaeConfig.SdxlBase);

    /// <summary>Reads the four <c>config.json</c> files of a diffusers pipeline folder.</summary>
    public static SdxlConfigs FromFolder(string unetDir, string textEncoderDir, string textEncoder2Dir, string vaeDir) =>
        new(UNetConfig.FromJson(Path.Combine(unetDir, "config.json")),
            ClipTextConfig.FromJson(Path.Combine(textEncoderDir, "config.json")),
            ClipTextConfig.FromJson(Path.Combine(textEncoder2Dir, "config.json")),
            VaeConfig.FromJson(Path.Combine(vaeDir, "config.json")));

    /// <summary>How many pixels one latent covers per side (the VAE's downscale factor; SDXL: 8).</summary>
    public int LatentScale => Vae.DownscaleFactor;

    /// <summary>Width and height must be multiples of this (VAE factor x UNet downsampling; SDXL: 8 x 4 = 32).</summary>
    public int SizeMultiple => Vae.DownscaleFactor * (1 << (Unet.Levels - 1));

    /// <summary>The native image size: the UNet's sample_size in latents times the VAE factor (SDXL: 1024).</summary>
    public int NativeSize => Unet.SampleSize * Vae.DownscaleFactor;
}
