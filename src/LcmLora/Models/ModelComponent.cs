namespace LcmLora.Models;

/// <summary>The parts of a Stable Diffusion model, named in files and reports as diffusers names its folders.</summary>
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
}

/// <summary>Names of <see cref="ModelComponent"/> values.</summary>
internal static class ModelComponents
{
    /// <summary>Every component, in load order.</summary>
    public static IReadOnlyList<ModelComponent> All { get; } = [ModelComponent.Unet, ModelComponent.TextEncoder, ModelComponent.TextEncoder2, ModelComponent.Vae];

    /// <summary>The diffusers folder name: <c>unet</c>, <c>text_encoder</c>, <c>text_encoder_2</c>, <c>vae</c>.</summary>
    public static string Name(this ModelComponent component) => component switch
    {
        ModelComponent.Unet => "unet",
        ModelComponent.TextEncoder => "text_encoder",
        ModelComponent.TextEncoder2 => "text_encoder_2",
        ModelComponent.Vae => "vae",
        _ => throw new ArgumentOutOfRangeException(nameof(component), component, "unknown component"),
    };

    /// <summary>The component a diffusers folder name denotes.</summary>
    /// <exception cref="ArgumentException">Not a component name.</exception>
    public static ModelComponent Parse(string name) =>
        All.FirstOrDefault(c => c.Name() == name, (ModelComponent)(-1)) is var c && c >= 0
            ? c
            : throw new ArgumentException($"Unknown component '{name}'; expected one of {string.Join(", ", All.Select(a => a.Name()))}.", nameof(name));
}
