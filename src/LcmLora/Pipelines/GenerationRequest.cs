using LcmLora.Imaging;
using LcmLora.Schedulers;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// One text-to-image or image-to-image request. Defaults are the LCM-LoRA recipe: 4 steps, guidance 1.0 (no
/// classifier-free guidance: one UNet pass per step), the LCM scheduler, the model's native size.
/// </summary>
public sealed record GenerationRequest
{
    /// <summary>What to draw.</summary>
    public required string Prompt { get; init; }

    /// <summary>What to avoid. Only used when <see cref="GuidanceScale"/> &gt; 1 (with LCM-LoRA, keep guidance at 1-2).
    /// When null and guidance &gt; 1, the negative conditioning is all zeros, as SDXL's force_zeros_for_empty_prompt.</summary>
    public string? NegativePrompt { get; init; }

    /// <summary>Denoising steps (LCM: 2-8, 4 typical).</summary>
    public int Steps { get; init; } = 4;

    /// <summary>Classifier-free guidance scale; guidance runs only when &gt; 1 (the batch is then [unconditional; conditional]).</summary>
    public double GuidanceScale { get; init; } = 1.0;

    /// <summary>Seed of a CPU generator that reproduces PyTorch's <c>torch.Generator("cpu").manual_seed(seed)</c> stream.
    /// Ignored when <see cref="Generator"/> is set. When both are null a random seed is used and reported.</summary>
    public ulong? Seed { get; init; }

    /// <summary>A caller-owned CPU generator (advanced: continue a stream across calls).</summary>
    public torch.Generator? Generator { get; init; }

    /// <summary>Image width in pixels; null: the model's native size. Must be a multiple of the model's size multiple (SDXL: 32).</summary>
    public int? Width { get; init; }

    /// <summary>Image height in pixels; null: the model's native size.</summary>
    public int? Height { get; init; }

    /// <summary>Images per call (the same prompt, different noise).</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Explicit initial latents <c>[B, 4, H/8, W/8]</c>; the generator then draws nothing for them (as diffusers' <c>latents=</c>).</summary>
    public torch.Tensor? Latents { get; init; }

    /// <summary>The scheduler; null: the pipeline's default (LCM).</summary>
    public IScheduler? Scheduler { get; init; }

    /// <summary>Init image for image-to-image (resized to the requested size when it differs).</summary>
    public RgbImage? InitImage { get; init; }

    /// <summary>Image-to-image strength in (0, 1]: how much of the schedule runs (1 ignores the image's content).</summary>
    public double Strength { get; init; } = 0.8;

    /// <summary>
    /// Inpainting mask (needs <see cref="InitImage"/>): white is repainted, black kept; grey-scaled, binarized at 0.5 and
    /// resized to the latent size, as diffusers. Works with a 4-channel UNet (latents blended each step) and with a
    /// 9-channel inpainting UNet (mask and masked image as extra input channels).
    /// </summary>
    public RgbImage? MaskImage { get; init; }

    /// <summary>Gaussian blur (sigma, in pixels) applied to <see cref="MaskImage"/> first; softens the <see cref="KeepUnmasked"/> seam.</summary>
    public double MaskBlur { get; init; }

    /// <summary>Inpainting: paste the init image's pixels back outside the mask after decoding (diffusers' apply_overlay).
    /// Without it the whole image is the VAE decode, so unmasked pixels change slightly.</summary>
    public bool KeepUnmasked { get; init; }

    /// <summary>ControlNets guiding the UNet, each with its control image, scale and step range (empty: none).</summary>
    public IReadOnlyList<ControlNetGuidance> ControlNets { get; init; } = [];

    /// <summary>CLIP skip: layers skipped from the penultimate one (null: the penultimate layer, SDXL's default).</summary>
    public int? ClipSkip { get; init; }

    /// <summary>Encode prompts longer than 77 tokens in 75-token chunks instead of truncating them (with a warning).</summary>
    public bool ChunkLongPrompts { get; init; }

    /// <summary>Also return the image as a float tensor <c>[B, 3, H, W]</c> in [0, 1] and the final latents.</summary>
    public bool ReturnTensors { get; init; }

    /// <summary>How the VAE decodes: tiled only above a size threshold (default), always, or never.</summary>
    public VaeTiling Tiling { get; init; } = VaeTiling.Auto;
}

/// <summary>Tiled VAE decoding (diffusers' tiled_decode): lower peak memory for large images, slightly different pixels.</summary>
public enum VaeTiling
{
    /// <summary>Tile only images whose area is more than twice the VAE's native one (SDXL: above about 1448 x 1448), where a plain decode needs many GB.</summary>
    Auto,
    /// <summary>Always tile.</summary>
    On,
    /// <summary>Never tile.</summary>
    Off,
}
