using LcmLora.Models.Taesd;
using TorchSharp;

namespace LcmLora.Pipelines.Decoding;

/// <summary>
/// Decodes with TAESD-XL (<see cref="AutoencoderTiny"/>): raw UNet latents (scaling factor 1), about a twentieth of the
/// full VAE's work, slightly softer detail. Used as the final decoder when speed matters or for per-step previews.
/// </summary>
internal sealed class TaesdLatentDecoder : ILatentDecoder
{
    private readonly AutoencoderTiny _taesd;

    /// <summary>Wraps a loaded TAESD.</summary>
    public TaesdLatentDecoder(AutoencoderTiny taesd) => _taesd = taesd;

    /// <summary>The wrapped model.</summary>
    public AutoencoderTiny Model => _taesd;

    /// <inheritdoc />
    public int ScaleFactor => _taesd.Config.DecoderUpscale;

    /// <inheritdoc />
    public string Name => "TAESD-XL (AutoencoderTiny)";

    /// <inheritdoc />
    public bool CanEncode => _taesd.HasEncoder;

    /// <inheritdoc />
    public torch.Tensor Decode(torch.Tensor latents, VaeTiling tiling = VaeTiling.Auto, int? tileSize = null)
    {
        using var scope = torch.NewDisposeScope();
        var z = latents / _taesd.Config.ScalingFactor;
        return _taesd.Decode(z).to(torch.ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public torch.Tensor Encode(torch.Tensor images, torch.Generator? generator)
    {
        using var scope = torch.NewDisposeScope();
        return (_taesd.Encode(images) * _taesd.Config.ScalingFactor).MoveToOuterDisposeScope();
    }

    /// <summary>TAESD's encoder is deterministic: it draws nothing, so skipping it skips nothing.</summary>
    void ILatentDecoder.SkipEncode(torch.Tensor images, torch.Generator? generator)
    {
    }
}
