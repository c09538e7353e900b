namespace LcmLora.Models.Taesd;

/// <summary>Which halves of a tiny autoencoder a model holds: previews need only the decoder.</summary>
[Flags]
internal enum TaesdParts
{
    /// <summary>The encoder (image to latents).</summary>
    Encoder = 1,

    /// <summary>The decoder (latents to image).</summary>
    Decoder = 2,

    /// <summary>Both halves (a diffusers <c>AutoencoderTiny</c> folder, or the original encoder and decoder pair).</summary>
    Both = Encoder | Decoder,
}
