using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Models.Vae;

/// <summary>
/// The VAE posterior, as diffusers' <c>DiagonalGaussianDistribution</c>: the encoder moments split on channels into
/// <see cref="Mean"/> and <see cref="LogVar"/> (clamped to [-30, 20]), <see cref="Std"/> = exp(0.5 * logvar).
/// Owns its tensors; dispose it (or let an enclosing dispose scope do it).
/// </summary>
internal sealed class DiagonalGaussianDistribution : IDisposable
{
    /// <summary>Splits encoder moments <c>[B, 2L, h, w]</c> into the distribution's parameters.</summary>
    public DiagonalGaussianDistribution(Tensor moments)
    {
        using var scope = NewDisposeScope();
        var halves = moments.chunk(2, 1);
        Mean = halves[0].contiguous().MoveToOuterDisposeScope();
        LogVar = halves[1].clamp(-30.0, 20.0).MoveToOuterDisposeScope();
        Std = (LogVar * 0.5).exp().MoveToOuterDisposeScope();
    }

    /// <summary>Latent mean <c>[B, L, h, w]</c> (also the distribution's mode).</summary>
    public Tensor Mean { get; }

    /// <summary>Log-variance, clamped to [-30, 20].</summary>
    public Tensor LogVar { get; }

    /// <summary>Standard deviation exp(0.5 * logvar).</summary>
    public Tensor Std { get; }

    /// <summary>
    /// Draws mean + std * noise with noise ~ N(0, 1) of the latent shape drawn from <paramref name="generator"/>
    /// on the generator's device (then moved to the latents' device), as diffusers' <c>randn_tensor</c> does.
    /// The noise is drawn in float32 and cast to the latents' dtype, so a seed gives the same draw at every precision
    /// (torch's CPU <c>randn</c> draws another sequence when asked for bfloat16 directly).
    /// The result is unscaled: multiply by <see cref="VaeConfig.ScalingFactor"/> for diffusion latents.
    /// </summary>
    public Tensor Sample(Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var noise = Noise(Mean.shape, generator?.device ?? Mean.device, generator).to(Mean.dtype).to(Mean.device);
        return (Mean + Std * noise).MoveToOuterDisposeScope();
    }

    /// <summary>The draw <see cref="Sample"/> makes for latents of <paramref name="shape"/>: float32 N(0, 1) on <paramref name="device"/>.</summary>
    internal static Tensor Noise(long[] shape, Device device, Generator? generator) =>
        randn(shape, dtype: ScalarType.Float32, device: device, generator: generator);

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Mean.Dispose();
        LogVar.Dispose();
        Std.Dispose();
    }
}
