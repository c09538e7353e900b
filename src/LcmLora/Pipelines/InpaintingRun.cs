using LcmLora.Imaging;
using LcmLora.Schedulers;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// Inpainting for one generation, as diffusers' <c>StableDiffusionXLInpaintPipeline</c>. The mask is grey-scaled
/// (white = repaint), optionally blurred, binarized at 0.5 and resized to the latent size by nearest neighbour. The
/// generator is drawn in diffusers' order: the init image's VAE posterior sample (when the UNet has 4 input channels
/// or strength &lt; 1), the initial noise, then the masked image's VAE sample (always: diffusers encodes it for both
/// UNet kinds), then the scheduler's step noise.
/// <list type="bullet">
/// <item>A 4-channel UNet denoises ordinary latents; after every step the unmasked part is replaced by the init
/// latents noised to the next timestep (after the last step, the init latents themselves).</item>
/// <item>A 9-channel inpainting UNet takes <c>cat(latents, mask, masked_image_latents)</c>; nothing is blended.</item>
/// </list>
/// Strength keeps the last min(int(steps·strength), steps) timesteps of the full plan (diffusers' <c>get_timesteps</c>,
/// also for LCM); strength 1 starts from pure noise, below 1 from the init latents noised to the first kept timestep.
/// </summary>
internal sealed class InpaintingRun
{
    private readonly torch.Tensor? _imageLatents;
    private readonly torch.Tensor _noise;
    private readonly torch.Tensor _latentMask;
    private readonly torch.Tensor? _maskedImageLatents;
    private readonly torch.Tensor _pixelMask;
    private readonly torch.Tensor _initUnit;

    private InpaintingRun(torch.Tensor? imageLatents, torch.Tensor noise, torch.Tensor latentMask, torch.Tensor? maskedImageLatents, torch.Tensor pixelMask, torch.Tensor initUnit)
    {
        _imageLatents = imageLatents;
        _noise = noise;
        _latentMask = latentMask;
        _maskedImageLatents = maskedImageLatents;
        _pixelMask = pixelMask;
        _initUnit = initUnit;
    }

    /// <summary>Whether the UNet takes the mask and the masked-image latents as extra input channels.</summary>
    public bool ExtraChannels => _maskedImageLatents is not null;

    /// <summary>
    /// The schedule for an inpainting request: the full plan of <paramref name="steps"/>, then its last
    /// min(int(steps·strength), steps) entries. LCM's own img2img strength (which shortens the grid) is not used here,
    /// because diffusers' inpainting pipeline plans with strength 1 and then cuts.
    /// </summary>
    public static ISchedulerRun Plan(IScheduler scheduler, int steps, double strength)
    {
        if (scheduler is LcmScheduler lcm)
            return lcm.SetCustomTimesteps(lcm.SetTimesteps(steps).IntegerTimesteps, strength);
        return scheduler.SetTimesteps(steps, strength);
    }

    /// <summary>
    /// Prepares the mask and the latents and returns the initial latents, drawing from <paramref name="generator"/> in
    /// diffusers' order.
    /// </summary>
    public static (InpaintingRun Run, torch.Tensor Latents) Start(SdxlPipeline p, GenerationRequest r, ISchedulerRun run, int width, int height,
        torch.Generator generator, bool guided)
    {
        var decoder = p.Decoder;
        if (!decoder.CanEncode) throw new LcmLoraInputException($"Inpainting needs an encoder; the decoder {decoder.Name} has none.");
        var unet = p.Models.Unet.Config;
        var latentChannels = unet.OutChannels;
        var extra = unet.InChannels == 2 * latentChannels + 1;
        if (!extra && unet.InChannels != latentChannels)
            throw new LcmLoraInputException($"Inpainting needs a UNet with {latentChannels} or {2 * latentChannels + 1} input channels; this one has {unet.InChannels}.");
        var device = p.Models.Device;
        var f = decoder.ScaleFactor;
        long[] shape = [r.BatchSize, latentChannels, height / f, width / f];

        var image = ImageTensors.FromImages([PngCodec.Resize(r.InitImage!, width, height)]);
        var soft = SoftMask(r.MaskImage!, width, height, r.MaskBlur);
        var binary = soft.ge(0.5).to(torch.ScalarType.Float32);
        var fullStrength = r.Strength >= 1.0;

        torch.Tensor? imageLatents = null;
        if (!extra || !fullStrength)
            imageLatents = decoder.Encode(image.to(device), generator).to(torch.ScalarType.Float32).repeat(r.BatchSize, 1, 1, 1);
        var noise = torch.randn(shape, generator: generator).to(device);
        var latents = fullStrength ? noise * run.InitNoiseSigma : run.AddNoise(imageLatents!, noise, run.Timesteps[0]);
        // diffusers encodes the masked image for both UNet kinds. A 9-channel UNet takes the latents; the 4-channel one
        // ignores them, but the posterior sample's draw still happens (every later draw follows it): only that is made.
        var masked = (image * binary.lt(0.5)).to(device);
        torch.Tensor? extraLatents = null;
        if (extra)
        {
            var maskedLatents = decoder.Encode(masked, generator).to(torch.ScalarType.Float32).repeat(r.BatchSize, 1, 1, 1);
            extraLatents = guided ? torch.cat([maskedLatents, maskedLatents]) : maskedLatents;
        }
        else
        {
            decoder.SkipEncode(masked, generator);
        }
        var latentMask = torch.nn.functional.interpolate(binary, [height / f, width / f], mode: torch.InterpolationMode.Nearest)
            .repeat(r.BatchSize, 1, 1, 1).to(device);
        var initUnit = ((image + 1) / 2).to(device);
        return (new InpaintingRun(imageLatents, noise, latentMask, extraLatents, soft.to(device), initUnit), latents);
    }

    /// <summary>The mask as diffusers' mask processor reads it: grey (PIL "L"), resized, in [0, 1], optionally Gaussian-blurred.</summary>
    internal static torch.Tensor SoftMask(RgbImage mask, int width, int height, double blurSigma)
    {
        var resized = PngCodec.Resize(mask, width, height);
        var grey = new float[width * height];
        var px = resized.Pixels;
        for (var i = 0; i < grey.Length; i++)
            grey[i] = ((px[3 * i] * 19595 + px[3 * i + 1] * 38470 + px[3 * i + 2] * 7471 + 0x8000) >> 16) / 255f;
        var t = torch.tensor(grey).reshape(1, 1, height, width);
        return blurSigma > 0 ? GaussianBlur(t, blurSigma) : t;
    }

    /// <summary>Separable Gaussian blur (radius 3 sigma, edges replicated) of a <c>[1, 1, H, W]</c> mask.</summary>
    private static torch.Tensor GaussianBlur(torch.Tensor mask, double sigma)
    {
        var radius = Math.Max(1, (int)Math.Ceiling(3 * sigma));
        var weights = Enumerable.Range(-radius, 2 * radius + 1).Select(x => (float)Math.Exp(-x * x / (2 * sigma * sigma))).ToArray();
        var sum = weights.Sum();
        using var scope = torch.NewDisposeScope();
        var kernel = torch.tensor(weights.Select(w => w / sum).ToArray());
        var padded = torch.nn.functional.pad(mask, [radius, radius, radius, radius], PaddingModes.Replicate);
        var rows = torch.nn.functional.conv2d(padded, kernel.reshape(1, 1, 1, -1));
        return torch.nn.functional.conv2d(rows, kernel.reshape(1, 1, -1, 1)).MoveToOuterDisposeScope();
    }

    /// <summary>The UNet input: unchanged for a 4-channel UNet, <c>cat(latents, mask, masked_image_latents)</c> for a 9-channel one.</summary>
    public torch.Tensor UNetInput(torch.Tensor scaled, bool guided)
    {
        if (_maskedImageLatents is null) return scaled;
        var mask = guided ? torch.cat([_latentMask, _latentMask]) : _latentMask;
        return torch.cat([scaled, mask.to(scaled.dtype), _maskedImageLatents.to(scaled.dtype)], 1);
    }

    /// <summary>After step <paramref name="index"/>, a 4-channel UNet's unmasked latents are the init latents noised to the next timestep.</summary>
    public torch.Tensor Blend(torch.Tensor latents, int index, ISchedulerRun run)
    {
        if (_maskedImageLatents is not null) return latents;
        var proper = index < run.Timesteps.Count - 1 ? run.AddNoise(_imageLatents!, _noise, run.Timesteps[index + 1]) : _imageLatents!;
        return (1 - _latentMask) * proper + _latentMask * latents;
    }

    /// <summary>Optional paste-back: the init image's pixels where the (blurred) mask is 0, the generated ones where it is 1.</summary>
    public torch.Tensor PasteBack(torch.Tensor unit) => _initUnit * (1 - _pixelMask) + unit * _pixelMask;
}
