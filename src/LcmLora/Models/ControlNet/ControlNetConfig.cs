using LcmLora.Models.Unet;

namespace LcmLora.Models.ControlNet;

/// <summary>
/// The architecture of a diffusers SDXL <c>ControlNetModel</c>: the UNet encoder half it copies (<see cref="Unet"/>,
/// read from the same config fields as a UNet's) plus the conditioning embedding that turns the control image into
/// latent-sized features.
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
    /// after the first halves the resolution (SDXL: 16, 32, 96, 256 = /8, the VAE's factor).</summary>
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
    public static ControlNetConfig FromJson(string configJsonPath)
    {
        var j = DiffusersConfigJson.Load(configJsonPath);
        var down = j.StringList("down_block_types");
        // A ControlNet has no up blocks; mirror the down blocks so the shared UNet config validates.
        var up = down.Reverse().Select(t => t == UNetConfig.CrossAttnDownBlock ? UNetConfig.CrossAttnUpBlock : UNetConfig.UpBlock).ToArray();
        var unet = UNetConfig.FromJson(j, up);
        var order = j.String("controlnet_conditioning_channel_order", "rgb");
        if (order is not ("rgb" or "bgr")) throw j.Error("controlnet_conditioning_channel_order", $"'{order}' is not supported (rgb, bgr)");
        var config = new ControlNetConfig
        {
            Source = configJsonPath,
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

    /// <summary>Checks the conditioning-embedding settings (the encoder half validates itself).</summary>
    public void Validate()
    {
        Unet.Validate();
        if (!Unet.HasAddedConditioning) throw new ModelConfigException(Source, "addition_embed_type", "must be text_time: only SDXL-family ControlNets are supported");
        if (ConditioningChannels <= 0) throw new ModelConfigException(Source, "conditioning_channels", "must be positive");
        if (ConditioningEmbeddingOutChannels.Count == 0 || ConditioningEmbeddingOutChannels.Any(c => c <= 0))
            throw new ModelConfigException(Source, "conditioning_embedding_out_channels", "must list positive widths");
    }
}
