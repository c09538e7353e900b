using LcmLora.Models;

namespace LcmLora.Lora;

/// <summary>
/// The component names LoRA code works with (diffusers folder names, from <see cref="ModelComponents.Name"/>) and the
/// key prefixes that address each of them in a LoRA file.
/// </summary>
internal static class LoraComponents
{
    /// <summary>The UNet; parameter names are diffusers names (<c>down_blocks.1.attentions.0...</c>).</summary>
    public static readonly string UNet = ModelComponent.Unet.Name();

    /// <summary>CLIP ViT-L (SDXL's first text encoder); Hugging Face names (<c>text_model.encoder.layers.0...</c>).</summary>
    public static readonly string TextEncoder = ModelComponent.TextEncoder.Name();

    /// <summary>OpenCLIP bigG (SDXL's second text encoder) in the Hugging Face layout (split q/k/v).</summary>
    public static readonly string TextEncoder2 = ModelComponent.TextEncoder2.Name();

    /// <summary>Report name for LoRA keys whose prefix names no known component.</summary>
    public const string Unknown = "(unknown)";

    /// <summary>Every component a LoRA can address.</summary>
    public static IReadOnlyList<string> All { get; } = [UNet, TextEncoder, TextEncoder2];

    private static readonly (string Prefix, string Component)[] Prefixes =
    [
        ("lora_unet_", UNet),
        ("lycoris_", UNet),
        ("unet.", UNet),
        ("lora_te1_", TextEncoder),
        ("lora_te_", TextEncoder),
        ("text_encoder.", TextEncoder),
        ("lora_te2_", TextEncoder2),
        ("text_encoder_2.", TextEncoder2),
    ];

    /// <summary>
    /// The component a LoRA module key's prefix names (<c>lora_unet_</c>, <c>lora_te1_</c>, <c>unet.</c>,
    /// <c>text_encoder_2.</c>, ...), or null when the key has no known prefix.
    /// </summary>
    public static string? OfKey(string moduleKey)
    {
        foreach (var (prefix, component) in Prefixes)
            if (moduleKey.StartsWith(prefix, StringComparison.Ordinal)) return component;
        return null;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="component"/> is one of <see cref="All"/>.</summary>
    internal static void Validate(string component)
    {
        if (!All.Contains(component))
            throw new ArgumentException($"Unknown component '{component}'; expected one of {string.Join(", ", All)}.", nameof(component));
    }
}
