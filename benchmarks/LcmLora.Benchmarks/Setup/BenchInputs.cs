using LcmLora.Models;
using TorchSharp;

namespace LcmLora.Benchmarks.Setup;

/// <summary>
/// Seeded random inputs of the shapes a 512x512 SDXL generation feeds its components (prompt conditioning is random:
/// the UNet's cost does not depend on the values).
/// </summary>
internal sealed class BenchInputs : IDisposable
{
    private BenchInputs(torch.Tensor latents, torch.Tensor textStates, torch.Tensor pooled, torch.Tensor timeIds)
    {
        Latents = latents;
        TextStates = textStates;
        Pooled = pooled;
        TimeIds = timeIds;
    }

    /// <summary>Initial noise <c>[1, latent_channels, 64, 64]</c>.</summary>
    public torch.Tensor Latents { get; }

    /// <summary>Token conditioning <c>[batch, 77, cross_attention_dim]</c>.</summary>
    public torch.Tensor TextStates { get; }

    /// <summary>Pooled text embedding <c>[batch, P]</c>.</summary>
    public torch.Tensor Pooled { get; }

    /// <summary>Micro-conditioning <c>[batch, 6]</c>: original size, crop top-left, target size.</summary>
    public torch.Tensor TimeIds { get; }

    /// <summary>Creates inputs for <paramref name="batch"/> (2 = classifier-free guidance: negative and positive).</summary>
    public static BenchInputs Create(SdxlConfigs configs, int batch, long seed = 42)
    {
        using var g = new torch.Generator((ulong)seed);
        var u = configs.Unet;
        var pooledWidth = (u.ProjectionClassEmbeddingsInputDim ?? throw new InvalidOperationException("benchmarks need an SDXL UNet (added conditioning)"))
            - 6 * (u.AdditionTimeEmbedDim ?? throw new InvalidOperationException("benchmarks need an SDXL UNet (time ids)"));
        var latents = torch.randn([1, u.InChannels, BenchSizes.Latent, BenchSizes.Latent], generator: g);
        var text = torch.randn([batch, 77, u.CrossAttentionDim[^1]], generator: g);
        var pooled = torch.randn([batch, pooledWidth], generator: g);
        float s = BenchSizes.Image;
        var ids = torch.tensor(new[] { s, s, 0f, 0f, s, s }).unsqueeze(0).expand(batch, 6).contiguous();
        return new BenchInputs(latents, text, pooled, ids);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Latents.Dispose();
        TextStates.Dispose();
        Pooled.Dispose();
        TimeIds.Dispose();
    }
}
