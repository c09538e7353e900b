using LcmLora.Imaging;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>What a generation produced.</summary>
public sealed class GenerationResult : IDisposable
{
    /// <summary>Creates the result.</summary>
    internal GenerationResult(IReadOnlyList<RgbImage> images, ulong? seed, IReadOnlyList<float> timesteps, IReadOnlyList<string> warnings,
        torch.Tensor? imageTensor, torch.Tensor? latents, TimeSpan elapsed,
        torch.ScalarType dtype = torch.ScalarType.Float32, GenerationTimings? timings = null)
    {
        DType = dtype;
        Timings = timings ?? new GenerationTimings(TimeSpan.Zero, elapsed, TimeSpan.Zero);
        Images = images;
        Seed = seed;
        Timesteps = timesteps;
        Warnings = warnings;
        ImageTensor = imageTensor;
        Latents = latents;
        Elapsed = elapsed;
    }

    /// <summary>One 8-bit RGB image per batch item.</summary>
    public IReadOnlyList<RgbImage> Images { get; }

    /// <summary>The seed used (null when the caller passed a generator).</summary>
    public ulong? Seed { get; }

    /// <summary>The timesteps that ran.</summary>
    public IReadOnlyList<float> Timesteps { get; }

    /// <summary>Things the caller should know (a truncated prompt, for example).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>With <see cref="GenerationRequest.ReturnTensors"/>: the images, float32 <c>[B, 3, H, W]</c> in [0, 1], on the CPU.</summary>
    public torch.Tensor? ImageTensor { get; }

    /// <summary>With <see cref="GenerationRequest.ReturnTensors"/>: the final latents (before VAE scaling), float32, on the CPU.</summary>
    public torch.Tensor? Latents { get; }

    /// <summary>Wall time of the call.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The dtype the UNet and text encoders computed in (Float32, BFloat16 or Float16).</summary>
    public torch.ScalarType DType { get; }

    /// <summary>Wall time of each stage.</summary>
    public GenerationTimings Timings { get; }

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        ImageTensor?.Dispose();
        Latents?.Dispose();
    }
}

/// <summary>Wall time of the stages of one generation.</summary>
/// <param name="Encode">Prompt encoding and conditioning.</param>
/// <param name="Denoise">Initial latents and the denoising loop.</param>
/// <param name="Decode">The latent decode and the conversion to images.</param>
public sealed record GenerationTimings(TimeSpan Encode, TimeSpan Denoise, TimeSpan Decode);

/// <summary>Reported after each denoising step.</summary>
/// <param name="Step">1-based step number.</param>
/// <param name="TotalSteps">Steps in this generation.</param>
/// <param name="Timestep">The timestep just run.</param>
/// <param name="Elapsed">Time since the generation started.</param>
/// <param name="Preview">A small preview of the current denoised estimate, when a preview decoder is set.</param>
public sealed record GenerationProgress(int Step, int TotalSteps, float Timestep, TimeSpan Elapsed, RgbImage? Preview = null);
