using System.Globalization;
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

    /// <summary>Classifier-free guidance scale; guidance runs only when &gt; 1 (the batch is then [unconditional; conditional]).
    /// A full LCM UNet (time_cond_proj_dim) instead takes it as an embedding of (scale - 1) and never doubles the batch.</summary>
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

    /// <summary>Custom LCM timesteps, strictly descending in 0..999 (e.g. 999, 499); null: <see cref="Steps"/> evenly spaced
    /// ones. Replaces <see cref="Steps"/> when set (diffusers' <c>timesteps=[...]</c>).</summary>
    public IReadOnlyList<int>? Timesteps { get; init; }

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

    /// <summary>
    /// The largest width or height accepted, in pixels. SDXL is trained at 1024; at 4096 x 4096 one float32 UNet step
    /// already needs tens of GB, and larger sizes run for hours before running out of memory.
    /// </summary>
    public const int MaxSize = 4096;

    /// <summary>
    /// Checks every value that can be checked without running the model (the pipeline checks again, with the model's
    /// size multiple and the latents' shape). Call it before loading a model to fail fast.
    /// </summary>
    /// <param name="sizeMultiple">Width and height must be multiples of this (<see cref="Models.SdxlConfigs.SizeMultiple"/>,
    /// SDXL: 32); null: only the range is checked.</param>
    /// <exception cref="InvalidRequestException">A value out of range; its <see cref="InvalidRequestException.Property"/> names it.</exception>
    public void Validate(int? sizeMultiple = null)
    {
        if (Steps < 1) throw new InvalidRequestException(nameof(Steps), $"must be at least 1; got {Steps}.");
        if (Timesteps is { } custom)
        {
            if (custom.Count == 0) throw new InvalidRequestException(nameof(Timesteps), "must hold at least one timestep.");
            for (var i = 0; i < custom.Count; i++)
            {
                if (custom[i] is < 0 or > 999) throw new InvalidRequestException(nameof(Timesteps), $"must be in 0..999; got {custom[i]}.");
                if (i > 0 && custom[i] >= custom[i - 1])
                    throw new InvalidRequestException(nameof(Timesteps), $"must be strictly descending; {custom[i]} follows {custom[i - 1]}.");
            }
        }
        if (BatchSize < 1) throw new InvalidRequestException(nameof(BatchSize), $"must be at least 1; got {BatchSize}.");
        if (!double.IsFinite(GuidanceScale) || GuidanceScale < 0)
            throw new InvalidRequestException(nameof(GuidanceScale), $"must be a finite number >= 0; got {Format(GuidanceScale)}.");
        if (InitImage is not null && !(Strength > 0 && Strength <= 1))
            throw new InvalidRequestException(nameof(Strength), $"must be in (0, 1]; got {Format(Strength)}.");
        if (ClipSkip is < 0) throw new InvalidRequestException(nameof(ClipSkip), $"must be 0 or more; got {ClipSkip}.");
        if (MaskImage is not null && InitImage is null) throw new InvalidRequestException(nameof(MaskImage), "needs an init image (the picture to inpaint).");
        if (MaskImage is not null && Latents is not null)
            throw new InvalidRequestException(nameof(Latents), "must be null with a mask image: inpainting makes its own initial latents.");
        if (!double.IsFinite(MaskBlur) || MaskBlur < 0) throw new InvalidRequestException(nameof(MaskBlur), $"must be a finite number >= 0; got {Format(MaskBlur)}.");
        foreach (var unit in ControlNets)
        {
            if (!double.IsFinite(unit.Scale)) throw new InvalidRequestException(nameof(ControlNets), $"scale must be a finite number; got {Format(unit.Scale)}.");
            if (!(unit.GuidanceStart >= 0 && unit.GuidanceStart < unit.GuidanceEnd && unit.GuidanceEnd <= 1))
                throw new InvalidRequestException(nameof(ControlNets), $"guidance start and end must satisfy 0 <= start < end <= 1; got {Format(unit.GuidanceStart)} and {Format(unit.GuidanceEnd)}.");
        }
        CheckSize(nameof(Width), Width, sizeMultiple);
        CheckSize(nameof(Height), Height, sizeMultiple);
    }

    private static void CheckSize(string property, int? value, int? multiple)
    {
        if (value is not { } v) return;
        var step = multiple ?? 1;
        if (v <= 0 || v % step != 0)
            throw new InvalidRequestException(property, $"must be a positive multiple of {step} for this model; got {v}{(v > step ? $" (nearest: {Nearest(v, step)})" : "")}.");
        if (v > MaxSize)
            throw new InvalidRequestException(property, $"must be at most {MaxSize} pixels (larger images need more memory than a single machine has); got {v}.");
    }

    private static int Nearest(int value, int multiple) => Math.Max(multiple, (int)Math.Round(value / (double)multiple) * multiple);

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);
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
