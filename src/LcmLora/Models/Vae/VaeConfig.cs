using LcmLora.Models;
using LcmLora.Models.Blocks;

namespace LcmLora.Models.Vae;

/// <summary>
/// The architecture and latent scaling of a diffusers <c>AutoencoderKL</c>. Build it with <see cref="FromJson(string)"/>
/// or use <see cref="SdxlBase"/>; <see cref="Validate"/> rejects what <see cref="AutoencoderKL"/> does not implement.
/// </summary>
internal sealed record VaeConfig
{
    /// <summary>Block type accepted in <see cref="DownBlockTypes"/>.</summary>
    public const string DownEncoderBlock = "DownEncoderBlock2D";

    /// <summary>Block type accepted in <see cref="UpBlockTypes"/>.</summary>
    public const string UpDecoderBlock = "UpDecoderBlock2D";

    /// <summary>Where the config came from (used in error messages).</summary>
    public string Source { get; init; } = nameof(VaeConfig);

    /// <summary>in_channels (image channels).</summary>
    public int InChannels { get; init; } = 3;

    /// <summary>out_channels (image channels).</summary>
    public int OutChannels { get; init; } = 3;

    /// <summary>latent_channels.</summary>
    public int LatentChannels { get; init; } = 4;

    /// <summary>block_out_channels, one per level; the image is downsampled 2^(levels-1) times.</summary>
    public required IReadOnlyList<int> BlockOutChannels { get; init; }

    /// <summary>down_block_types (all <see cref="DownEncoderBlock"/>).</summary>
    public required IReadOnlyList<string> DownBlockTypes { get; init; }

    /// <summary>up_block_types (all <see cref="UpDecoderBlock"/>).</summary>
    public required IReadOnlyList<string> UpBlockTypes { get; init; }

    /// <summary>layers_per_block: resnets per encoder block (decoder blocks have one more).</summary>
    public required int LayersPerBlock { get; init; }

    /// <summary>norm_num_groups of every GroupNorm.</summary>
    public int NormNumGroups { get; init; } = 32;

    /// <summary>sample_size (image size the tiling defaults derive from in diffusers).</summary>
    public int SampleSize { get; init; } = 1024;

    /// <summary>
    /// scaling_factor: diffusion latents are the VAE latents times this (SDXL 0.13025). <see cref="AutoencoderKL.Decode"/>
    /// expects latents already divided by it; multiply encoder samples by it before diffusion.
    /// </summary>
    public required double ScalingFactor { get; init; }

    /// <summary>shift_factor (null for SDXL): when set, latents are (z - shift) * scale.</summary>
    public double? ShiftFactor { get; init; }

    /// <summary>latents_mean (null for SDXL): per-channel latent means some VAEs publish for the pipeline's scaling.</summary>
    public IReadOnlyList<double>? LatentsMean { get; init; }

    /// <summary>latents_std (null for SDXL): per-channel latent deviations, used with <see cref="LatentsMean"/>.</summary>
    public IReadOnlyList<double>? LatentsStd { get; init; }

    /// <summary>
    /// force_upcast: the VAE overflows in float16 (SDXL: true); run it in float32 (or bfloat16) even when the
    /// rest of the pipeline uses float16.
    /// </summary>
    public bool ForceUpcast { get; init; } = true;

    /// <summary>use_quant_conv: a 1x1 <c>quant_conv</c> follows the encoder.</summary>
    public bool UseQuantConv { get; init; } = true;

    /// <summary>use_post_quant_conv: a 1x1 <c>post_quant_conv</c> precedes the decoder.</summary>
    public bool UsePostQuantConv { get; init; } = true;

    /// <summary>mid_block_add_attention: the mid blocks hold a self-attention.</summary>
    public bool MidBlockAddAttention { get; init; } = true;

    /// <summary>Spatial ratio between image and latents, 2^(levels-1) (SDXL: 8).</summary>
    public int DownscaleFactor => 1 << (BlockOutChannels.Count - 1);

    /// <summary>The SDXL base 1.0 VAE (stabilityai/stable-diffusion-xl-base-1.0, vae/config.json).</summary>
    public static VaeConfig SdxlBase { get; } = new()
    {
        Source = "VaeConfig.SdxlBase",
        BlockOutChannels = [128, 256, 512, 512],
        DownBlockTypes = [DownEncoderBlock, DownEncoderBlock, DownEncoderBlock, DownEncoderBlock],
        UpBlockTypes = [UpDecoderBlock, UpDecoderBlock, UpDecoderBlock, UpDecoderBlock],
        LayersPerBlock = 2,
        SampleSize = 1024,
        ScalingFactor = 0.13025,
        ForceUpcast = true,
    };

    /// <summary>
    /// Reads a diffusers <c>vae/config.json</c>. Missing required fields, malformed values and features this
    /// library does not implement throw <see cref="ModelConfigException"/> naming the file and field.
    /// </summary>
    public static VaeConfig FromJson(string configJsonPath) => FromJson(DiffusersConfigJson.Load(configJsonPath));

    /// <summary>Reads a parsed config (a file, or fields merged from shapes, defaults and a user config).</summary>
    internal static VaeConfig FromJson(DiffusersConfigJson j)
    {
        var configJsonPath = j.File;
        var act = j.String("act_fn", "silu");
        if (act != "silu") throw j.Error("act_fn", $"'{act}' is not supported (supported: silu)");
        var config = new VaeConfig
        {
            Source = configJsonPath,
            InChannels = j.Int("in_channels", 3),
            OutChannels = j.Int("out_channels", 3),
            LatentChannels = j.Int("latent_channels"),
            BlockOutChannels = j.IntList("block_out_channels"),
            DownBlockTypes = j.StringList("down_block_types"),
            UpBlockTypes = j.StringList("up_block_types"),
            LayersPerBlock = j.Int("layers_per_block"),
            NormNumGroups = j.Int("norm_num_groups", 32),
            SampleSize = j.Int("sample_size", 32),
            ScalingFactor = j.Double("scaling_factor"),
            ShiftFactor = j.OptionalDouble("shift_factor"),
            LatentsMean = j.Has("latents_mean") ? j.DoubleList("latents_mean") : null,
            LatentsStd = j.Has("latents_std") ? j.DoubleList("latents_std") : null,
            ForceUpcast = j.Bool("force_upcast", true),
            UseQuantConv = j.Bool("use_quant_conv", true),
            UsePostQuantConv = j.Bool("use_post_quant_conv", true),
            MidBlockAddAttention = j.Bool("mid_block_add_attention", true),
        };
        config.Validate();
        return config;
    }

    /// <summary>Checks that the lists agree and every value is one this library implements.</summary>
    public void Validate()
    {
        var n = BlockOutChannels.Count;
        if (n == 0) throw Fail("block_out_channels", "is empty");
        if (DownBlockTypes.Count != n) throw Fail("down_block_types", $"has {DownBlockTypes.Count} entries but block_out_channels has {n}");
        if (UpBlockTypes.Count != n) throw Fail("up_block_types", $"has {UpBlockTypes.Count} entries but block_out_channels has {n}");
        if (DownBlockTypes.Any(t => t != DownEncoderBlock)) throw Fail("down_block_types", $"only {DownEncoderBlock} is supported");
        if (UpBlockTypes.Any(t => t != UpDecoderBlock)) throw Fail("up_block_types", $"only {UpDecoderBlock} is supported");
        if (NormNumGroups <= 0) throw Fail("norm_num_groups", "must be positive");
        if (BlockOutChannels.Any(c => c <= 0 || c % NormNumGroups != 0))
            throw Fail("block_out_channels", $"every entry must be a positive multiple of norm_num_groups {NormNumGroups}");
        if (LayersPerBlock <= 0) throw Fail("layers_per_block", "must be positive");
        if (LatentChannels <= 0) throw Fail("latent_channels", "must be positive");
        if (InChannels <= 0) throw Fail("in_channels", "must be positive");
        if (OutChannels <= 0) throw Fail("out_channels", "must be positive");
        if (LatentsMean is not null && LatentsMean.Count != LatentChannels) throw Fail("latents_mean", $"must have {LatentChannels} entries");
        if (LatentsStd is not null && LatentsStd.Count != LatentChannels) throw Fail("latents_std", $"must have {LatentChannels} entries");
        if (!(ScalingFactor > 0) || double.IsInfinity(ScalingFactor)) throw Fail("scaling_factor", "must be a positive number");
    }

    private ModelConfigException Fail(string field, string problem) => new(Source, field, problem);
}
