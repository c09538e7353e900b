using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Models.Taesd;

/// <summary>
/// TAESD, the tiny distilled autoencoder (diffusers' <c>AutoencoderTiny</c>; TAESD-XL for SDXL). Parameter names
/// equal the diffusers keys (<c>encoder.layers.N...</c>, <c>decoder.layers.N...</c>). Either half may be absent:
/// a model loaded from the original <c>taesdxl_decoder.safetensors</c> alone can decode and preview but not encode.
/// With <c>scaling_factor</c> 1.0 the decoder takes the UNet's latents as they are.
/// </summary>
/// <remarks>
/// Inference only: call inside <c>torch.inference_mode()</c> or <c>torch.no_grad()</c>. Inputs are moved to the
/// parameters' device and dtype. <see cref="forward"/> decodes; diffusers' own <c>forward</c> (an encode, uint8
/// quantize, decode round trip for training) is not reproduced.
/// </remarks>
internal sealed class AutoencoderTiny : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly EncoderTiny? encoder;
    private readonly DecoderTiny? decoder;
#pragma warning restore IDE1006

    /// <summary>Creates the model (random weights; <c>LcmLora.Checkpoints.Taesd.TaesdCheckpoint.Load</c> loads real ones).</summary>
    /// <param name="config">Shape of the model.</param>
    /// <param name="parts">Which halves to build.</param>
    /// <param name="device">Where parameters live; <c>torch.device("meta")</c> builds the structure without memory.</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    public AutoencoderTiny(TaesdConfig config, TaesdParts parts = TaesdParts.Both, Device? device = null, ScalarType? dtype = null)
        : base(nameof(AutoencoderTiny))
    {
        config.Validate();
        if ((parts & TaesdParts.Both) == 0 || (parts & ~TaesdParts.Both) != 0)
            throw new ArgumentOutOfRangeException(nameof(parts), parts, "Build the encoder, the decoder or both.");
        Config = config;
        Parts = parts;
        if (parts.HasFlag(TaesdParts.Encoder)) encoder = new EncoderTiny(config, device, dtype);
        if (parts.HasFlag(TaesdParts.Decoder)) decoder = new DecoderTiny(config, device, dtype);
        RegisterComponents();
    }

    /// <summary>The config the model was built from.</summary>
    public TaesdConfig Config { get; }

    /// <summary>Which halves the model holds.</summary>
    public TaesdParts Parts { get; }

    /// <summary>Whether <see cref="Encode"/> is available.</summary>
    public bool HasEncoder => encoder is not null;

    /// <summary>Whether <see cref="Decode"/> and <see cref="Preview"/> are available.</summary>
    public bool HasDecoder => decoder is not null;

    /// <summary>The encoder module, or null.</summary>
    internal EncoderTiny? EncoderModule => encoder;

    /// <summary>The decoder module, or null.</summary>
    internal DecoderTiny? DecoderModule => decoder;

    /// <summary>Decodes; the same as <see cref="Decode"/>.</summary>
    public override Tensor forward(Tensor latents) => Decode(latents);

    /// <summary>
    /// Decodes raw latents <c>[B, latent_channels, h, w]</c> to an image <c>[B, out_channels, 8h, 8w]</c> in
    /// [-1, 1] (not clamped), as diffusers' <c>AutoencoderTiny.decode(latents).sample</c>.
    /// </summary>
    /// <exception cref="TaesdInputException">The model has no decoder, or the tensor has the wrong shape.</exception>
    public Tensor Decode(Tensor latents)
    {
        var d = RequireDecoder();
        using var scope = NewDisposeScope();
        return d.call(Prepare(latents, Config.LatentChannels, "latents")).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Decodes latents to a displayable image in [0, 1] (clamped), e.g. for a per-step preview: equal to
    /// <c>(Decode(latents) / 2 + 0.5).clamp(0, 1)</c> up to rounding, but without the round trip through [-1, 1].
    /// </summary>
    /// <exception cref="TaesdInputException">The model has no decoder, or the tensor has the wrong shape.</exception>
    public Tensor Preview(Tensor latents)
    {
        var d = RequireDecoder();
        using var scope = NewDisposeScope();
        return d.DecodeUnit(Prepare(latents, Config.LatentChannels, "latents")).clamp_(0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Encodes an image <c>[B, in_channels, H, W]</c> in [-1, 1] to latents <c>[B, latent_channels, ceil(H/8),
    /// ceil(W/8)]</c>, as diffusers' <c>AutoencoderTiny.encode(image).latents</c> (deterministic: nothing to sample).
    /// </summary>
    /// <exception cref="TaesdInputException">The model has no encoder, or the tensor has the wrong shape.</exception>
    public Tensor Encode(Tensor image)
    {
        var e = encoder ?? throw new TaesdInputException(
            "This TAESD has no encoder (it was loaded from a decoder file alone); load the encoder too " +
            "(taesdxl_encoder.safetensors beside the decoder, or the diffusers AutoencoderTiny folder) to encode images.");
        using var scope = NewDisposeScope();
        return e.call(Prepare(image, Config.InChannels, "image")).MoveToOuterDisposeScope();
    }

    private DecoderTiny RequireDecoder() => decoder ?? throw new TaesdInputException(
        "This TAESD has no decoder (it was loaded from an encoder file alone); load the decoder too " +
        "(taesdxl_decoder.safetensors, or the diffusers AutoencoderTiny folder) to decode latents.");

    private Tensor Prepare(Tensor x, int channels, string what)
    {
        if (x.dim() != 4 || x.shape[1] != channels || x.shape[2] == 0 || x.shape[3] == 0)
            throw new TaesdInputException($"TAESD {what} must be [batch, {channels}, height, width], got [{string.Join(", ", x.shape)}].");
        if (!x.is_floating_point())
            throw new TaesdInputException($"TAESD {what} must be floating point, got {x.dtype}.");
        var reference = parameters().First();
        return x.device == reference.device && x.dtype == reference.dtype ? x : x.to(reference.dtype, reference.device);
    }
}
