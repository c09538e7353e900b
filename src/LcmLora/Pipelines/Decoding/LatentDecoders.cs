using LcmLora.Checkpoints;
using LcmLora.Checkpoints.Taesd;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Pipelines.Decoding;

/// <summary>
/// Loads a replacement decoder from a file or folder, detecting its kind from the tensor names: TAESD-XL (diffusers
/// folder, the original encoder/decoder pair, or a decoder file alone) or any SDXL <see cref="AutoencoderKL"/>
/// (a diffusers <c>vae/</c> folder, a standalone VAE file in diffusers or original naming, e.g. the fp16-fix VAE).
/// </summary>
public static class LatentDecoders
{
    /// <summary>Loads the decoder at <paramref name="path"/>.</summary>
    /// <param name="path">A folder or a <c>.safetensors</c> file.</param>
    /// <param name="device">Where it runs (default CPU).</param>
    /// <param name="dtype">Its dtype (default float32).</param>
    /// <exception cref="LcmLoraInputException">Neither kind, or the weights do not map.</exception>
    public static ILatentDecoder Load(string path, torch.Device? device = null, torch.ScalarType? dtype = null)
    {
        var (files, keys) = StandaloneVae.ReadKeys(path);
        return KindOf(path, keys) == LatentDecoderKind.Taesd
            ? new TaesdLatentDecoder(TaesdCheckpoint.Load(path, device: device, dtype: dtype))
            : new VaeLatentDecoder(StandaloneVae.Load(path, files, keys, device, dtype));
    }

    /// <summary>Which kind of decoder <paramref name="path"/> holds, from the tensor names in its headers (no weights are read).</summary>
    /// <exception cref="LcmLoraInputException">Neither kind.</exception>
    public static LatentDecoderKind Detect(string path) => KindOf(path, StandaloneVae.ReadKeys(path).Keys);

    private static LatentDecoderKind KindOf(string path, List<string> keys) =>
        TaesdDetector.LooksLikeTaesd(keys) ? LatentDecoderKind.Taesd
        : TaesdDetector.LooksLikeAutoencoderKl(keys) ? LatentDecoderKind.AutoencoderKl
        : throw new LcmLoraInputException($"{path}: neither a TAESD-XL nor an AutoencoderKL VAE (no encoder/decoder tensors found).");
}

/// <summary>The kinds of replacement decoder <see cref="LatentDecoders"/> loads.</summary>
public enum LatentDecoderKind
{
    /// <summary>TAESD-XL: a tiny, fast approximate decoder (also used for step previews).</summary>
    Taesd,
    /// <summary>A full SDXL AutoencoderKL.</summary>
    AutoencoderKl,
}
