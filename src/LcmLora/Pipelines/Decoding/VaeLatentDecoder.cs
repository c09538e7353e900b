using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Pipelines.Decoding;

/// <summary>
/// Decodes with an SDXL <see cref="AutoencoderKL"/> as diffusers' SDXL pipeline does: <c>latents / scaling_factor</c>
/// (or <c>latents * std / scaling + mean</c> when the config has latents_mean/std), in the VAE's own dtype (float32
/// when the model was loaded in half precision with force_upcast), optionally tiled.
/// </summary>
internal sealed class VaeLatentDecoder : ILatentDecoder
{
    private readonly AutoencoderKL _vae;
    private readonly Action<AutoencoderKL>? _loadEncoder;

    /// <summary>Wraps a loaded VAE.</summary>
    /// <param name="vae">The VAE.</param>
    /// <param name="loadEncoder">Called before the first encode when the VAE's encoder weights were not loaded.</param>
    public VaeLatentDecoder(AutoencoderKL vae, Action<AutoencoderKL>? loadEncoder = null)
    {
        _vae = vae;
        _loadEncoder = loadEncoder;
    }

    /// <inheritdoc />
    public int ScaleFactor => _vae.Config.DownscaleFactor;

    /// <inheritdoc />
    public string Name => "VAE (AutoencoderKL)";

    /// <inheritdoc />
    public bool CanEncode => _vae.HasEncoderWeights || _loadEncoder is not null;

    /// <summary><see cref="VaeTiling.Auto"/> tiles images larger than this many times the VAE's native area (SDXL: above about 1448 x 1448).</summary>
    public const int AutoTilingThreshold = 2;

    private torch.ScalarType VaeType => _vae.parameters().First(p => p.device_type != DeviceType.META).dtype;

    /// <inheritdoc />
    public torch.Tensor Decode(torch.Tensor latents, VaeTiling tiling = VaeTiling.Auto, int? tileSize = null)
    {
        using var scope = torch.NewDisposeScope();
        var c = _vae.Config;
        var z = latents.to(VaeType);
        z = c.LatentsMean is { } mean && c.LatentsStd is { } std
            ? z * Column(std, z) / c.ScalingFactor + Column(mean, z)
            : z / c.ScalingFactor;
        var pixels = latents.shape[2] * latents.shape[3] * ScaleFactor * ScaleFactor;
        var tile = tiling switch
        {
            VaeTiling.On => true,
            VaeTiling.Off => false,
            _ => pixels > AutoTilingThreshold * c.SampleSize * c.SampleSize,
        };
        var image = tile ? _vae.DecodeTiled(z, tileSize) : _vae.Decode(z);
        return image.to(torch.ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public torch.Tensor Encode(torch.Tensor images, torch.Generator? generator)
    {
        if (!_vae.HasEncoderWeights) _loadEncoder?.Invoke(_vae);
        using var scope = torch.NewDisposeScope();
        var c = _vae.Config;
        using var posterior = _vae.Encode(images.to(VaeType));
        var z = posterior.Sample(generator);
        z = c.LatentsMean is { } mean && c.LatentsStd is { } std
            ? (z - Column(mean, z)) * c.ScalingFactor / Column(std, z)
            : z * c.ScalingFactor;
        return z.MoveToOuterDisposeScope();
    }

    /// <summary>Draws what <see cref="DiagonalGaussianDistribution.Sample"/> draws for these images' latents, and nothing else.</summary>
    void ILatentDecoder.SkipEncode(torch.Tensor images, torch.Generator? generator)
    {
        if (generator is null) return;
        var f = ScaleFactor;
        using var noise = DiagonalGaussianDistribution.Noise([images.shape[0], _vae.Config.LatentChannels, images.shape[2] / f, images.shape[3] / f],
            generator.device, generator);
    }

    private static torch.Tensor Column(IReadOnlyList<double> values, torch.Tensor like) =>
        torch.tensor(values.Select(v => (float)v).ToArray(), dtype: like.dtype, device: like.device).reshape(1, -1, 1, 1);
}
