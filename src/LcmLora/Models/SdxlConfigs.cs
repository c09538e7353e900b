using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;
using TorchSharp;

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
        string ConfigJson(ModelComponent c) => Path.Combine(folder, c.Name(), "config.json");
        ClipTextConfig? Clip(ModelComponent c) => File.Exists(ConfigJson(c)) ? ClipTextConfig.FromJson(ConfigJson(c)) : null;
        var (te, te2) = (Clip(ModelComponent.TextEncoder), Clip(ModelComponent.TextEncoder2));
        return new(UNetConfig.FromJson(ConfigJson(ModelComponent.Unet)), te, te2, VaeConfig.FromJson(ConfigJson(ModelComponent.Vae)))
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

    /// <summary>The config of a component: a <see cref="UNetConfig"/>, <see cref="ClipTextConfig"/> or <see cref="VaeConfig"/>.</summary>
    /// <exception cref="InvalidOperationException">The model has no such component.</exception>
    internal object ConfigOf(ModelComponent component) => component switch
    {
        ModelComponent.Unet => Unet,
        ModelComponent.Vae => Vae,
        _ => TextEncoderConfig(component),
    };

    /// <summary>
    /// Builds a component's module: on <c>torch.device("meta")</c> for a structure without memory that a checkpoint
    /// fills, or allocated with random weights.
    /// </summary>
    /// <param name="component">One of <see cref="Components"/>.</param>
    /// <param name="device">Where the parameters live (default CPU).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <exception cref="InvalidOperationException">The model has no such component.</exception>
    public torch.nn.Module Build(ModelComponent component, torch.Device? device = null, torch.ScalarType? dtype = null) =>
        BuildModule(component, ConfigOf(component), device, dtype);

    /// <summary>Builds the module of a component from its config (see <see cref="ConfigOf"/>).</summary>
    internal static torch.nn.Module BuildModule(ModelComponent component, object config, torch.Device? device, torch.ScalarType? dtype) => component switch
    {
        ModelComponent.Unet => new SdxlUNet((UNetConfig)config, device, dtype),
        ModelComponent.Vae => new AutoencoderKL((VaeConfig)config, device, dtype),
        ModelComponent.TextEncoder or ModelComponent.TextEncoder2 => new ClipTextModel((ClipTextConfig)config, device, dtype),
        _ => throw new ArgumentOutOfRangeException(nameof(component), component, "not a component of a pipeline checkpoint"),
    };

    /// <summary>How many pixels one latent covers per side (the VAE's downscale factor; SDXL: 8).</summary>
    public int LatentScale => Vae.DownscaleFactor;

    /// <summary>Width and height must be multiples of this (VAE factor x UNet downsampling; SDXL: 8 x 4 = 32).</summary>
    public int SizeMultiple => Vae.DownscaleFactor * (1 << (Unet.Levels - 1));

    /// <summary>The native image size: the UNet's sample_size in latents times the VAE factor (SDXL: 1024).</summary>
    public int NativeSize => Unet.SampleSize * Vae.DownscaleFactor;
}
