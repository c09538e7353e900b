using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;

namespace LcmLora.Models;

/// <summary>
/// The architecture of a model's components. The name stays from the SDXL-only days: it also describes SD 1.x
/// (<see cref="TextEncoder2"/> null) and the SDXL refiner (<see cref="TextEncoder"/> null); <see cref="Family"/> says which.
/// </summary>
/// <param name="Unet">The UNet.</param>
/// <param name="TextEncoder">CLIP ViT-L (text_encoder), or null when the model has none (SDXL refiner).</param>
/// <param name="TextEncoder2">OpenCLIP ViT-bigG with projection (text_encoder_2), or null (SD 1.x).</param>
/// <param name="Vae">The VAE.</param>
internal sealed record SdxlConfigs(UNetConfig Unet, ClipTextConfig? TextEncoder, ClipTextConfig? TextEncoder2, VaeConfig Vae)
{
    /// <summary>The model family (text conditioning, latent scaling, default size).</summary>
    public ModelFamily Family { get; init; } = ModelFamily.Sdxl;

    /// <summary>Stable Diffusion XL base 1.0 (and its fine-tunes).</summary>
    public static SdxlConfigs SdxlBase { get; } = new(UNetConfig.SdxlBase, ClipTextConfig.SdxlClipL, ClipTextConfig.SdxlBigG, VaeConfig.SdxlBase);

    /// <summary>Reads the four <c>config.json</c> files of a diffusers pipeline folder.</summary>
    public static SdxlConfigs FromFolder(string unetDir, string textEncoderDir, string textEncoder2Dir, string vaeDir) =>
        new(UNetConfig.FromJson(Path.Combine(unetDir, "config.json")),
            ClipTextConfig.FromJson(Path.Combine(textEncoderDir, "config.json")),
            ClipTextConfig.FromJson(Path.Combine(textEncoder2Dir, "config.json")),
            VaeConfig.FromJson(Path.Combine(vaeDir, "config.json")));

    /// <summary>Reads the <c>config.json</c> files of whichever components a diffusers pipeline folder has (SD 1.x: no
    /// text_encoder_2; the refiner: no text_encoder).</summary>
    public static SdxlConfigs FromFolderComponents(string folder)
    {
        ClipTextConfig? Clip(string name) => File.Exists(Path.Combine(folder, name, "config.json")) ? ClipTextConfig.FromJson(Path.Combine(folder, name, "config.json")) : null;
        var (te, te2) = (Clip("text_encoder"), Clip("text_encoder_2"));
        return new(UNetConfig.FromJson(Path.Combine(folder, "unet", "config.json")), te, te2, VaeConfig.FromJson(Path.Combine(folder, "vae", "config.json")))
        {
            Family = te2 is null ? ModelFamily.Sd15 : te is null ? ModelFamily.SdxlRefiner : ModelFamily.Sdxl,
        };
    }

    /// <summary>The components present, in load order.</summary>
    public IReadOnlyList<ModelComponent> Components =>
        ModelComponents.All.Where(c => c switch { ModelComponent.TextEncoder => TextEncoder is not null, ModelComponent.TextEncoder2 => TextEncoder2 is not null, _ => true }).ToList();

    /// <summary>The text-encoder config of <paramref name="component"/>.</summary>
    /// <exception cref="InvalidOperationException">The model has no such encoder.</exception>
    public ClipTextConfig TextEncoderConfig(ModelComponent component) => component switch
    {
        ModelComponent.TextEncoder => TextEncoder,
        ModelComponent.TextEncoder2 => TextEncoder2,
        _ => null,
    } ?? throw new InvalidOperationException($"This {Family.Name} model has no {component.Name()}.");

    /// <summary>How many pixels one latent covers per side (the VAE's downscale factor; SDXL: 8).</summary>
    public int LatentScale => Vae.DownscaleFactor;

    /// <summary>Width and height must be multiples of this (VAE factor x UNet downsampling; SDXL: 8 x 4 = 32).</summary>
    public int SizeMultiple => Vae.DownscaleFactor * (1 << (Unet.Levels - 1));

    /// <summary>The native image size: the UNet's sample_size in latents times the VAE factor (SDXL: 1024).</summary>
    public int NativeSize => Unet.SampleSize * Vae.DownscaleFactor;
}
