using TorchSharp;

namespace LcmLora.Pipelines.Decoding;

/// <summary>
/// Turns the UNet's latents into images (and, for image-to-image, images into latents). The SDXL VAE and TAESD-XL
/// implement it, so the pipeline can decode with either.
/// </summary>
public interface ILatentDecoder
{
    /// <summary>Pixels per latent along each side (SDXL VAE and TAESD-XL: 8).</summary>
    int ScaleFactor { get; }

    /// <summary>A short description for messages ("SDXL VAE (AutoencoderKL)", "TAESD-XL").</summary>
    string Name { get; }

    /// <summary>Whether <see cref="Encode"/> works (a decoder-only TAESD file cannot encode).</summary>
    bool CanEncode { get; }

    /// <summary>Decodes raw UNet latents <c>[B, 4, h, w]</c> (any scaling is applied inside) to float32 images in [-1, 1].</summary>
    torch.Tensor Decode(torch.Tensor latents, VaeTiling tiling = VaeTiling.Auto, int? tileSize = null);

    /// <summary>Encodes float32 images in [-1, 1] to latents in the UNet's space, sampling the posterior with <paramref name="generator"/> where there is one.</summary>
    torch.Tensor Encode(torch.Tensor images, torch.Generator? generator);

    /// <summary>
    /// Advances <paramref name="generator"/> exactly as <see cref="Encode"/> of <paramref name="images"/> would, without
    /// encoding. Inpainting with a 4-channel UNet encodes the masked image only because diffusers does (its posterior
    /// sample is a draw that every later draw follows) and then ignores the latents; this skips a whole VAE encoder pass.
    /// </summary>
    internal void SkipEncode(torch.Tensor images, torch.Generator? generator)
    {
        using var latents = Encode(images, generator);
    }
}
