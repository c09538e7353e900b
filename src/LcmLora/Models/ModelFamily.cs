namespace LcmLora.Models;

/// <summary>How a family turns a prompt into the UNet's conditioning.</summary>
public enum TextConditioning
{
    /// <summary>
    /// SDXL: CLIP-L and OpenCLIP bigG penultimate hidden states (no final norm) concatenated per token; pooled bigG
    /// projection and six micro-conditioning ids (original size, crop, target size) in <c>add_embedding</c>.
    /// </summary>
    SdxlDualEncoder,
    /// <summary>
    /// SDXL refiner: OpenCLIP bigG alone (penultimate hidden state), its pooled projection and five ids (original size,
    /// crop, aesthetic score).
    /// </summary>
    SdxlRefiner,
    /// <summary>SD 1.x: CLIP-L's last hidden state (after the final norm); no pooled embedding, no micro-conditioning.</summary>
    ClipLastHiddenState,
}

/// <summary>
/// A model family as data: which components it has, how it conditions on text, how its latents are scaled, its
/// default image size, and the defaults of the config fields tensor shapes leave open (norm groups, epsilon, head
/// counts, time-id widths). These defaults hold for every released model of the family; other files need a
/// user-supplied config. Checkpoint key layouts belong to <c>LcmLora.Checkpoints</c>.
/// </summary>
/// <param name="Name">Short name used in reports (<c>sdxl</c>, <c>sdxl-refiner</c>, <c>sd15</c>).</param>
/// <param name="Components">The components a full checkpoint of the family holds.</param>
/// <param name="Conditioning">The text-conditioning recipe.</param>
/// <param name="TimeIds">Micro-conditioning ids per image (SDXL 6, refiner 5, SD 1.x 0).</param>
/// <param name="VaeScalingFactor">The VAE's scaling_factor (SDXL 0.13025, SD 1.x 0.18215).</param>
/// <param name="DefaultImageSize">Image side used when a request gives none (SDXL 1024, SD 1.x 512).</param>
/// <param name="UNetHeadWidth">When set, attention heads per level = channels / this (SDXL: 64).</param>
/// <param name="UNetHeads">When set, a fixed number of heads per level (SD 1.x: 8).</param>
/// <param name="Defaults">Per component, the open fields' values in diffusers/transformers config.json names.</param>
public sealed record ModelFamily(
    string Name,
    IReadOnlyList<ModelComponent> Components,
    TextConditioning Conditioning,
    int TimeIds,
    double VaeScalingFactor,
    int DefaultImageSize,
    int? UNetHeadWidth,
    int? UNetHeads,
    IReadOnlyDictionary<ModelComponent, IReadOnlyDictionary<string, object?>> Defaults)
{
    /// <summary>Width of every CLIP attention head in the released encoders (ViT-L 768/12, bigG 1280/20).</summary>
    public const int ClipHeadWidth = 64;

    private static IReadOnlyDictionary<string, object?> Clip(string act) => new Dictionary<string, object?>
    {
        ["hidden_act"] = act, ["layer_norm_eps"] = 1e-5, ["bos_token_id"] = 0, ["eos_token_id"] = 2, ["pad_token_id"] = 1,
    };

    private static IReadOnlyDictionary<string, object?> Vae(double scaling, int sampleSize) => new Dictionary<string, object?>
    {
        ["norm_num_groups"] = 32, ["act_fn"] = "silu", ["scaling_factor"] = scaling, ["sample_size"] = sampleSize, ["force_upcast"] = true,
    };

    private static IReadOnlyDictionary<string, object?> UNet(int sampleSize, int? additionTimeEmbedDim) => new Dictionary<string, object?>
    {
        ["norm_num_groups"] = 32, ["norm_eps"] = 1e-5, ["act_fn"] = "silu", ["flip_sin_to_cos"] = true, ["freq_shift"] = 0,
        ["sample_size"] = sampleSize, ["downsample_padding"] = 1, ["mid_block_scale_factor"] = 1, ["center_input_sample"] = false,
        ["addition_time_embed_dim"] = additionTimeEmbedDim,
    };

    /// <summary>Stable Diffusion XL (base 1.0 and its fine-tunes, SSD-1B, Segmind Vega, inpainting, full LCM-SDXL).</summary>
    public static ModelFamily Sdxl { get; } = new("sdxl",
        [ModelComponent.Unet, ModelComponent.TextEncoder, ModelComponent.TextEncoder2, ModelComponent.Vae],
        TextConditioning.SdxlDualEncoder, TimeIds: 6, VaeScalingFactor: 0.13025, DefaultImageSize: 1024, UNetHeadWidth: 64, UNetHeads: null,
        new Dictionary<ModelComponent, IReadOnlyDictionary<string, object?>>
        {
            [ModelComponent.Unet] = UNet(128, 256),
            [ModelComponent.TextEncoder] = Clip("quick_gelu"),
            [ModelComponent.TextEncoder2] = Clip("gelu"),
            [ModelComponent.Vae] = Vae(0.13025, 1024),
        });

    /// <summary>The SDXL refiner: OpenCLIP bigG only, aesthetic-score conditioning.</summary>
    public static ModelFamily SdxlRefiner { get; } = Sdxl with
    {
        Name = "sdxl-refiner",
        Components = [ModelComponent.Unet, ModelComponent.TextEncoder2, ModelComponent.Vae],
        Conditioning = TextConditioning.SdxlRefiner,
        TimeIds = 5,
    };

    /// <summary>Stable Diffusion 1.x (1.5 and its fine-tunes, LCM_Dreamshaper_v7).</summary>
    public static ModelFamily Sd15 { get; } = new("sd15",
        [ModelComponent.Unet, ModelComponent.TextEncoder, ModelComponent.Vae],
        TextConditioning.ClipLastHiddenState, TimeIds: 0, VaeScalingFactor: 0.18215, DefaultImageSize: 512, UNetHeadWidth: null, UNetHeads: 8,
        new Dictionary<ModelComponent, IReadOnlyDictionary<string, object?>>
        {
            [ModelComponent.Unet] = UNet(64, null),
            [ModelComponent.TextEncoder] = Clip("quick_gelu"),
            [ModelComponent.Vae] = Vae(0.18215, 512),
        });

    /// <summary>The known families.</summary>
    public static IReadOnlyList<ModelFamily> All { get; } = [Sdxl, SdxlRefiner, Sd15];

    /// <summary>Whether the family has <paramref name="component"/>.</summary>
    public bool Has(ModelComponent component) => Components.Contains(component);
}
