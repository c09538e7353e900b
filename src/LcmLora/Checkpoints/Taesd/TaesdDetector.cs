using LcmLora.Models.Taesd;

namespace LcmLora.Checkpoints.Taesd;

/// <summary>The key layout of TAESD weights (see <see cref="TaesdKeyMap"/>).</summary>
internal enum TaesdLayout
{
    /// <summary>diffusers <c>AutoencoderTiny</c>: <c>encoder.layers.N...</c> / <c>decoder.layers.N...</c> in one file.</summary>
    Diffusers,

    /// <summary>madebyollin's original files: one bare <c>nn.Sequential</c> per half (<c>N.conv.0.weight</c>...).</summary>
    Original,
}

/// <summary>What <see cref="TaesdDetector.Detect"/> found in one file's keys.</summary>
/// <param name="Layout">The key layout.</param>
/// <param name="Parts">Which halves the file holds (an original file holds exactly one).</param>
internal sealed record TaesdDetection(TaesdLayout Layout, TaesdParts Parts);

/// <summary>
/// Tells TAESD weights from other checkpoints by their keys alone (no tensor is read). A TAESD file holds nothing
/// but conv layers and conv blocks in numbered sequences; an <c>AutoencoderKL</c> has <c>up_blocks</c>/<c>mid_block</c>
/// (diffusers) or <c>first_stage_model.</c>/<c>decoder.up.</c> (original single file) keys, so it never matches.
/// </summary>
internal static class TaesdDetector
{
    private static readonly string[] AutoencoderKlMarkers =
    [
        "encoder.down_blocks.", "decoder.up_blocks.", "decoder.mid_block.", "encoder.mid_block.",
        "first_stage_model.", "encoder.down.", "decoder.up.", "decoder.mid.",
    ];

    /// <summary>True when the keys are those of TAESD weights in either layout (a whole model or one half).</summary>
    public static bool LooksLikeTaesd(IEnumerable<string> keys) => Detect(keys) is not null;

    /// <summary>
    /// The layout and halves of a key set, or null when it is not TAESD. Every key must be a TAESD layer key and
    /// at least one block (<c>conv.0.weight</c>) must be there. In the original layout the encoder file has the
    /// image conv at <c>0.weight</c>; the decoder file has no index 0 (the parameter-free clamp) and its first conv
    /// at <c>1.weight</c>.
    /// </summary>
    public static TaesdDetection? Detect(IEnumerable<string> keys)
    {
        var list = keys as IReadOnlyCollection<string> ?? keys.ToList();
        if (list.Count == 0) return null;
        var hasBlock = list.Any(k => k.EndsWith(".conv.0.weight", StringComparison.Ordinal));
        if (!hasBlock) return null;

        if (list.All(TaesdKeyMap.DiffusersKey.IsMatch))
        {
            var parts = (list.Any(k => k.StartsWith("encoder.", StringComparison.Ordinal)) ? TaesdParts.Encoder : 0)
                | (list.Any(k => k.StartsWith("decoder.", StringComparison.Ordinal)) ? TaesdParts.Decoder : 0);
            return new TaesdDetection(TaesdLayout.Diffusers, parts);
        }
        if (list.All(TaesdKeyMap.OriginalKeyPattern.IsMatch))
        {
            var set = list as ISet<string> ?? new HashSet<string>(list, StringComparer.Ordinal);
            if (set.Contains("0.weight")) return new TaesdDetection(TaesdLayout.Original, TaesdParts.Encoder);
            var hasIndexZero = list.Any(k => k.StartsWith("0.", StringComparison.Ordinal));
            if (!hasIndexZero && set.Contains("1.weight")) return new TaesdDetection(TaesdLayout.Original, TaesdParts.Decoder);
        }
        return null;
    }

    /// <summary>True when the keys are those of a full VAE (<c>AutoencoderKL</c>, diffusers or original single-file layout).</summary>
    public static bool LooksLikeAutoencoderKl(IEnumerable<string> keys) =>
        keys.Any(k => AutoencoderKlMarkers.Any(m => k.StartsWith(m, StringComparison.Ordinal)));
}
