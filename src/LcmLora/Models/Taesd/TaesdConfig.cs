using LcmLora.Models;
using System.Text.Json;

namespace LcmLora.Models.Taesd;

/// <summary>
/// The shape of a tiny autoencoder (TAESD), as diffusers' <c>AutoencoderTiny</c> config.json describes it.
/// </summary>
/// <param name="InChannels">Image channels the encoder takes (<c>in_channels</c>).</param>
/// <param name="OutChannels">Image channels the decoder produces (<c>out_channels</c>).</param>
/// <param name="EncoderBlockOutChannels">Width of each encoder level (<c>encoder_block_out_channels</c>).</param>
/// <param name="DecoderBlockOutChannels">Width of each decoder level (<c>decoder_block_out_channels</c>).</param>
/// <param name="NumEncoderBlocks">Residual blocks per encoder level (<c>num_encoder_blocks</c>).</param>
/// <param name="NumDecoderBlocks">Residual blocks per decoder level (<c>num_decoder_blocks</c>).</param>
/// <param name="ActFn">Activation inside the blocks (<c>act_fn</c>).</param>
/// <param name="LatentChannels">Latent channels (<c>latent_channels</c>).</param>
/// <param name="UpsamplingScalingFactor">Nearest-neighbour upscale between decoder levels (<c>upsampling_scaling_factor</c>).</param>
/// <param name="LatentMagnitude">
/// <c>latent_magnitude</c>: only used by diffusers' <c>scale_latents</c> (latents stored as uint8), never by decode.
/// </param>
/// <param name="LatentShift"><c>latent_shift</c>: likewise only for uint8 latent storage.</param>
/// <param name="ScalingFactor">
/// <c>scaling_factor</c>: 1.0 for every TAESD, so a pipeline's <c>latents / scaling_factor</c> leaves the UNet
/// latents unchanged and the decoder takes them raw.
/// </param>
/// <param name="ForceUpcast">
/// <c>force_upcast</c> as stored. diffusers' <c>AutoencoderTiny</c> overrides it to false when it builds the model.
/// </param>
internal sealed record TaesdConfig(
    int InChannels,
    int OutChannels,
    IReadOnlyList<int> EncoderBlockOutChannels,
    IReadOnlyList<int> DecoderBlockOutChannels,
    IReadOnlyList<int> NumEncoderBlocks,
    IReadOnlyList<int> NumDecoderBlocks,
    TaesdActivation ActFn,
    int LatentChannels,
    int UpsamplingScalingFactor,
    double LatentMagnitude,
    double LatentShift,
    double ScalingFactor,
    bool ForceUpcast)
{
    /// <summary>The only <c>upsample_fn</c> TAESD uses and this port supports.</summary>
    public const string UpsampleFn = "nearest";

    /// <summary>
    /// TAESD-XL (<c>madebyollin/taesdxl</c>), which is also diffusers' <c>AutoencoderTiny</c> default: four levels
    /// of 64 channels, 1/3/3/3 encoder and 3/3/3/1 decoder blocks, ReLU, 4 latent channels, scale 8. SD 1.x's TAESD
    /// has the same shape (only its weights differ).
    /// </summary>
    public static TaesdConfig TaesdXl { get; } = new(
        InChannels: 3, OutChannels: 3,
        EncoderBlockOutChannels: [64, 64, 64, 64], DecoderBlockOutChannels: [64, 64, 64, 64],
        NumEncoderBlocks: [1, 3, 3, 3], NumDecoderBlocks: [3, 3, 3, 1],
        ActFn: TaesdActivation.Relu, LatentChannels: 4, UpsamplingScalingFactor: 2,
        LatentMagnitude: 3, LatentShift: 0.5, ScalingFactor: 1.0, ForceUpcast: false);

    /// <summary>How many pixels one latent covers per side in the encoder: <c>2^(levels - 1)</c> (8 for TAESD).</summary>
    public int EncoderDownscale => 1 << (EncoderBlockOutChannels.Count - 1);

    /// <summary>How many pixels one latent becomes per side in the decoder: <c>factor^(levels - 1)</c> (8 for TAESD).</summary>
    public int DecoderUpscale => (int)Math.Pow(UpsamplingScalingFactor, DecoderBlockOutChannels.Count - 1);

    /// <summary>
    /// Reads the <c>config.json</c> of a diffusers <c>AutoencoderTiny</c> folder. Every field has the diffusers
    /// default when absent (a config may be nearly empty); unknown fields are ignored. A <c>_class_name</c> other
    /// than <c>AutoencoderTiny</c> is refused.
    /// </summary>
    /// <exception cref="LcmLoraInputException">The file is missing, is not JSON, is another model's config or has an invalid value.</exception>
    public static TaesdConfig FromJson(string configJsonPath)
    {
        var read = DiffusersConfigJson.Load(configJsonPath);
        var className = read.String("_class_name", "AutoencoderTiny")!;
        if (className != "AutoencoderTiny")
            throw new LcmLoraInputException($"{configJsonPath}: '_class_name' is '{className}'; a TAESD folder has 'AutoencoderTiny'.");
        var upsample = read.String("upsample_fn", UpsampleFn)!;
        if (upsample != UpsampleFn)
            throw new LcmLoraInputException($"{configJsonPath}: field 'upsample_fn' is '{upsample}'; supported: {UpsampleFn}.");
        var actName = read.String("act_fn", "relu")!;
        var act = TaesdActivationExtensions.TryParse(actName)
            ?? throw new LcmLoraInputException($"{configJsonPath}: field 'act_fn' is '{actName}'; supported: relu, silu, swish, gelu, mish.");
        var d = TaesdXl;
        var config = new TaesdConfig(
            InChannels: read.Int("in_channels", d.InChannels),
            OutChannels: read.Int("out_channels", d.OutChannels),
            EncoderBlockOutChannels: read.IntList("encoder_block_out_channels", d.EncoderBlockOutChannels),
            DecoderBlockOutChannels: read.IntList("decoder_block_out_channels", d.DecoderBlockOutChannels),
            NumEncoderBlocks: read.IntList("num_encoder_blocks", d.NumEncoderBlocks),
            NumDecoderBlocks: read.IntList("num_decoder_blocks", d.NumDecoderBlocks),
            ActFn: act,
            LatentChannels: read.Int("latent_channels", d.LatentChannels),
            UpsamplingScalingFactor: read.Int("upsampling_scaling_factor", d.UpsamplingScalingFactor),
            LatentMagnitude: read.Double("latent_magnitude", d.LatentMagnitude),
            LatentShift: read.Double("latent_shift", d.LatentShift),
            ScalingFactor: read.Double("scaling_factor", d.ScalingFactor),
            ForceUpcast: read.Bool("force_upcast", d.ForceUpcast));
        var problem = config.Problem();
        if (problem != null) throw new LcmLoraInputException($"{configJsonPath}: {problem}");
        return config;
    }

    /// <summary>Throws <see cref="LcmLoraInputException"/> when the values cannot describe a runnable model.</summary>
    public void Validate()
    {
        var problem = Problem();
        if (problem != null) throw new LcmLoraInputException($"Invalid TAESD config: {problem}");
    }

    private string? Problem()
    {
        (string Name, int Value)[] positive =
        [
            ("in_channels", InChannels), ("out_channels", OutChannels), ("latent_channels", LatentChannels),
            ("upsampling_scaling_factor", UpsamplingScalingFactor),
        ];
        foreach (var (name, value) in positive)
            if (value <= 0) return $"field '{name}' must be positive, got {value}.";
        return Levels("encoder", EncoderBlockOutChannels, NumEncoderBlocks)
            ?? Levels("decoder", DecoderBlockOutChannels, NumDecoderBlocks)
            ?? (ScalingFactor > 0 && double.IsFinite(ScalingFactor) ? null : $"field 'scaling_factor' must be a positive number, got {ScalingFactor}.")
            ?? (Enum.IsDefined(ActFn) ? null : $"unknown activation {ActFn}.");
    }

    // diffusers builds a level's convs from that level's width alone, so only equal widths give a model whose
    // layers connect (diffusers accepts other values and then fails in forward); every TAESD uses 64 throughout.
    private static string? Levels(string part, IReadOnlyList<int>? channels, IReadOnlyList<int>? blocks)
    {
        if (channels is null || blocks is null) return $"the {part} level lists are missing.";
        if (channels.Count == 0) return $"field '{part}_block_out_channels' is empty.";
        if (channels.Count != blocks.Count)
            return $"'{part}_block_out_channels' has {channels.Count} entries but 'num_{part}_blocks' has {blocks.Count}; they must match.";
        if (channels.Any(c => c <= 0)) return $"field '{part}_block_out_channels' must hold positive widths, got [{string.Join(", ", channels)}].";
        if (channels.Distinct().Count() != 1)
            return $"field '{part}_block_out_channels' is [{string.Join(", ", channels)}]; AutoencoderTiny only connects when every level has the same width.";
        if (blocks.Any(b => b < 0)) return $"field 'num_{part}_blocks' must not be negative, got [{string.Join(", ", blocks)}].";
        return null;
    }

    /// <summary>Value equality, comparing the level lists element by element.</summary>
    public bool Equals(TaesdConfig? other) =>
        other is not null
        && InChannels == other.InChannels && OutChannels == other.OutChannels
        && EncoderBlockOutChannels.SequenceEqual(other.EncoderBlockOutChannels)
        && DecoderBlockOutChannels.SequenceEqual(other.DecoderBlockOutChannels)
        && NumEncoderBlocks.SequenceEqual(other.NumEncoderBlocks)
        && NumDecoderBlocks.SequenceEqual(other.NumDecoderBlocks)
        && ActFn == other.ActFn && LatentChannels == other.LatentChannels
        && UpsamplingScalingFactor == other.UpsamplingScalingFactor
        && LatentMagnitude.Equals(other.LatentMagnitude) && LatentShift.Equals(other.LatentShift)
        && ScalingFactor.Equals(other.ScalingFactor) && ForceUpcast == other.ForceUpcast;

    /// <summary>Hash consistent with <see cref="Equals(TaesdConfig?)"/>.</summary>
    public override int GetHashCode() => HashCode.Combine(
        InChannels, OutChannels, LatentChannels, ActFn,
        string.Join(",", EncoderBlockOutChannels), string.Join(",", DecoderBlockOutChannels),
        string.Join(",", NumEncoderBlocks), string.Join(",", NumDecoderBlocks));
}
