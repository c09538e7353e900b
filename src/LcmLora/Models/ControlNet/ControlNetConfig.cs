using LcmLora.Models.Unet;

namespace LcmLora.Models.ControlNet;

/// <summary>
/// The architecture of a diffusers <c>ControlNetModel</c> (SDXL or SD 1.x: the family follows from the encoder half):
/// the UNet encoder half it copies (<see cref="Unet"/>, read from the same config fields as a UNet's, with or without
/// the text_time add-embedding) plus the conditioning embedding that turns the control image into latent-sized features.
/// </summary>
internal sealed record ControlNetConfig
{
    /// <summary>Where the config came from (used in error messages).</summary>
    public string Source { get; init; } = nameof(ControlNetConfig);

    /// <summary>The encoder half (conv_in, embeddings, down and mid blocks); its up-block fields are unused.</summary>
    public required UNetConfig Unet { get; init; }

    /// <summary>conditioning_channels: channels of the control image (3, RGB).</summary>
    public int ConditioningChannels { get; init; } = 3;

    /// <summary>conditioning_embedding_out_channels: widths of the conditioning embedding's convolutions; each step
    /// after the first halves the resolution (SDXL and SD 1.5: 16, 32, 96, 256 = /8, the VAE's factor).</summary>
    public IReadOnlyList<int> ConditioningEmbeddingOutChannels { get; init; } = [16, 32, 96, 256];

    /// <summary>controlnet_conditioning_channel_order "bgr": the control image's channels are flipped first.</summary>
    public bool BgrConditioning { get; init; }

    /// <summary>global_pool_conditions: residuals are averaged over the image (shuffle-style ControlNets).</summary>
    public bool GlobalPoolConditions { get; init; }

    /// <summary>Factor between the control image and the latents (2 per stride-2 convolution).</summary>
    public int DownscaleFactor => 1 << (ConditioningEmbeddingOutChannels.Count - 1);

    /// <summary>The SDXL ControlNet of diffusers' <c>ControlNetModel.from_unet(SDXL base)</c> (e.g. controlnet-canny-sdxl-1.0).</summary>
    public static ControlNetConfig SdxlBase { get; } = new()
    {
        Source = "ControlNetConfig.SdxlBase",
        Unet = UNetConfig.SdxlBase,
    };

    /// <summary>
    /// Reads a diffusers ControlNet <c>config.json</c>. Missing fields, malformed values and unsupported features throw
    /// <see cref="ModelConfigException"/> naming the file and field.
    /// </summary>
    public static ControlNetConfig FromJson(string configJsonPath) => FromJson(DiffusersConfigJson.Load(configJsonPath));

    /// <summary>Reads a parsed config (a file, or fields merged from a single file's shapes, a config.json and family defaults).</summary>
    internal static ControlNetConfig FromJson(DiffusersConfigJson j)
    {
        var down = j.StringList("down_block_types");
        var unet = UNetConfig.FromJson(j, MirroredUpBlocks(down));
        var order = j.String("controlnet_conditioning_channel_order", "rgb");
        if (order is not ("rgb" or "bgr")) throw j.Error("controlnet_conditioning_channel_order", $"'{order}' is not supported (rgb, bgr)");
        var config = new ControlNetConfig
        {
            Source = j.File,
            Unet = unet,
            ConditioningChannels = j.Int("conditioning_channels", 3),
            ConditioningEmbeddingOutChannels = j.Has("conditioning_embedding_out_channels")
                ? j.IntList("conditioning_embedding_out_channels")
                : [16, 32, 96, 256],
            BgrConditioning = order == "bgr",
            GlobalPoolConditions = j.Bool("global_pool_conditions", false),
        };
        config.Validate();
        return config;
    }

    /// <summary>
    /// Refuses a ControlNet made for another model family than <paramref name="unet"/>'s (an SD 1.5 ControlNet on SDXL or
    /// the reverse: different text-token widths and added conditioning) or for another UNet layout (its residuals would
    /// not fit the skip connections), with a <see cref="ModelConfigException"/> naming this ControlNet's file.
    /// </summary>
    internal void CheckFits(UNetConfig unet)
    {
        var (ours, theirs) = (Unet.CrossAttentionDim[^1], unet.CrossAttentionDim[^1]);
        if (ours != theirs || Unet.HasAddedConditioning != unet.HasAddedConditioning || Unet.ProjectionClassEmbeddingsInputDim != unet.ProjectionClassEmbeddingsInputDim)
            throw new ModelConfigException(Source, "cross_attention_dim",
                $"this ControlNet takes {ours}-wide text tokens ({Conditioning(Unet)}) but the model's UNet takes {theirs}-wide ones ({Conditioning(unet)}); " +
                "use a ControlNet made for the model's family (SD 1.5 ControlNets for SD 1.5 models, SDXL ControlNets for SDXL).");
        if (!Unet.BlockOutChannels.SequenceEqual(unet.BlockOutChannels) || !Unet.LayersPerBlock.SequenceEqual(unet.LayersPerBlock))
            throw new ModelConfigException(Source, "block_out_channels",
                $"this ControlNet's levels ({Levels(Unet)}) differ from the model's UNet ({Levels(unet)}): its residuals would not fit the UNet's skip connections.");
    }

    private static string Conditioning(UNetConfig c) => c.HasAddedConditioning
        ? $"SDXL family: text_time conditioning of width {c.ProjectionClassEmbeddingsInputDim}" : "SD 1.x family: no added conditioning";

    private static string Levels(UNetConfig c) =>
        string.Join(", ", c.BlockOutChannels.Zip(c.LayersPerBlock, (ch, l) => $"{ch} channels x {l} layers"));

    /// <summary>A ControlNet has no up blocks; the down blocks mirrored stand in for them so the shared UNet config validates.</summary>
    internal static string[] MirroredUpBlocks(IReadOnlyList<string> downBlockTypes) =>
        downBlockTypes.Reverse().Select(t => t == UNetConfig.CrossAttnDownBlock ? UNetConfig.CrossAttnUpBlock : UNetConfig.UpBlock).ToArray();

    /// <summary>Checks the conditioning-embedding settings (the encoder half validates itself).</summary>
    public void Validate()
    {
        Unet.Validate();
        if (ConditioningChannels <= 0) throw new ModelConfigException(Source, "conditioning_channels", "must be positive");
        if (ConditioningEmbeddingOutChannels.Count == 0 || ConditioningEmbeddingOutChannels.Any(c => c <= 0))
            throw new ModelConfigException(Source, "conditioning_embedding_out_channels", "must list positive widths");
    }
}
