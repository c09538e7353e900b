namespace LcmLora.Models;

/// <summary>
/// The parts of a Stable Diffusion model, and the standalone models that plug into one (TAESD, ControlNet). Files,
/// folders and reports name them as diffusers names its folders (see <see cref="ModelComponents.Name"/>).
/// </summary>
public enum ModelComponent
{
    /// <summary><c>unet</c>: the denoiser.</summary>
    Unet,
    /// <summary><c>text_encoder</c>: OpenAI CLIP ViT-L (SDXL's first encoder, SD 1.x's only one).</summary>
    TextEncoder,
    /// <summary><c>text_encoder_2</c>: OpenCLIP ViT-bigG with projection (SDXL's second encoder, the refiner's only one).</summary>
    TextEncoder2,
    /// <summary><c>vae</c>: the autoencoder.</summary>
    Vae,
    /// <summary><c>taesd</c>: the tiny autoencoder (diffusers <c>AutoencoderTiny</c>), a standalone decoder.</summary>
    Taesd,
    /// <summary><c>controlnet</c>: a ControlNet, loaded on its own beside a model.</summary>
    ControlNet,
}

/// <summary>Names of <see cref="ModelComponent"/> values: the one table of component names.</summary>
internal static class ModelComponents
{
    /// <summary>The components of a pipeline checkpoint, in load order (TAESD and ControlNets come on their own).</summary>
    public static IReadOnlyList<ModelComponent> All { get; } = [ModelComponent.Unet, ModelComponent.TextEncoder, ModelComponent.TextEncoder2, ModelComponent.Vae];

    /// <summary>The diffusers folder name: <c>unet</c>, <c>text_encoder</c>, <c>text_encoder_2</c>, <c>vae</c>, <c>taesd</c>, <c>controlnet</c>.</summary>
    public static string Name(this ModelComponent component) => component switch
    {
        ModelComponent.Unet => "unet",
        ModelComponent.TextEncoder => "text_encoder",
        ModelComponent.TextEncoder2 => "text_encoder_2",
        ModelComponent.Vae => "vae",
        ModelComponent.Taesd => "taesd",
        ModelComponent.ControlNet => "controlnet",
        _ => throw new ArgumentOutOfRangeException(nameof(component), component, "unknown component"),
    };

    /// <summary>True for the text encoders (<see cref="ModelComponent.TextEncoder"/>, <see cref="ModelComponent.TextEncoder2"/>).</summary>
    public static bool IsTextEncoder(this ModelComponent component) => component is ModelComponent.TextEncoder or ModelComponent.TextEncoder2;

    /// <summary>The pipeline component a diffusers folder name denotes (one of <see cref="All"/>).</summary>
    /// <exception cref="ArgumentException">Not a component name.</exception>
    public static ModelComponent Parse(string name) =>
        All.FirstOrDefault(c => c.Name() == name, (ModelComponent)(-1)) is var c && c >= 0
            ? c
            : throw new ArgumentException($"Unknown component '{name}'; expected one of {string.Join(", ", All.Select(a => a.Name()))}.", nameof(name));
}
