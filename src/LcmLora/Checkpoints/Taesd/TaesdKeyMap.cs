using System.Text.RegularExpressions;
using LcmLora.Models.Taesd;

namespace LcmLora.Checkpoints.Taesd;

/// <summary>
/// The two key layouts TAESD weights come in, rendered forward from our parameter names (diffusers
/// <c>AutoencoderTiny</c> naming):
/// <list type="bullet">
/// <item>diffusers (<c>diffusion_pytorch_model.safetensors</c>): keys equal our names, <c>encoder.layers.N.*</c>
/// and <c>decoder.layers.N.*</c>;</item>
/// <item>original (madebyollin's <c>taesdxl_encoder.safetensors</c> / <c>taesdxl_decoder.safetensors</c>, one
/// <c>nn.Sequential</c> per file): the encoder's keys drop <c>encoder.layers.</c>; the decoder's drop
/// <c>decoder.layers.</c> and add 1 to the index, because the original decoder sequence starts with a
/// parameter-free clamp that diffusers moved into <c>forward</c>.</item>
/// </list>
/// </summary>
internal static class TaesdKeyMap
{
    /// <summary>How far the original decoder file's layer indices are ahead of diffusers' (its leading clamp).</summary>
    public const int OriginalDecoderIndexOffset = 1;

    // What a TAESD layer's parameters look like after the layer index: a conv (weight, bias) or a block
    // (conv.0/2/4 weight and bias, optional 1x1 skip weight).
    private const string LayerParameter = @"(?:weight|bias|conv\.\d+\.(?:weight|bias)|skip\.weight)";

    /// <summary>A key of the diffusers layout.</summary>
    internal static readonly Regex DiffusersKey = new(@"^(?:encoder|decoder)\.layers\.\d+\." + LayerParameter + "$",
        RegexOptions.CultureInvariant | RegexOptions.Compiled);

    /// <summary>A key of one original file.</summary>
    internal static readonly Regex OriginalKeyPattern = new(@"^\d+\." + LayerParameter + "$",
        RegexOptions.CultureInvariant | RegexOptions.Compiled);

    private static readonly NameRule[] OriginalRules =
    [
        NameRule.Of(@"encoder\.layers\.(?<i>\d+)\.(?<rest>.+)", m => $"{NameRule.Int(m, "i")}.{m.Groups["rest"].Value}"),
        NameRule.Of(@"decoder\.layers\.(?<i>\d+)\.(?<rest>.+)",
            m => $"{NameRule.Int(m, "i") + OriginalDecoderIndexOffset}.{m.Groups["rest"].Value}"),
    ];

    /// <summary>The map for a diffusers <c>AutoencoderTiny</c> file: identity over our names; every key belongs to it.</summary>
    /// <param name="ourParameterNames">The whole model's parameter names (<c>encoder.layers...</c>, <c>decoder.layers...</c>).</param>
    public static WeightMap Diffusers(IEnumerable<string> ourParameterNames) => WeightMap.Identity(ourParameterNames);

    /// <summary>The key in its original file (encoder or decoder) of one of our full parameter names.</summary>
    /// <exception cref="ArgumentException">The name is not a TAESD parameter name.</exception>
    public static string OriginalKey(string ourParameterName) =>
        NameRule.Apply(OriginalRules, ourParameterName)
        ?? throw new ArgumentException($"'{ourParameterName}' is not a TAESD parameter name (encoder.layers.N... or decoder.layers.N...).", nameof(ourParameterName));

    /// <summary>
    /// The map for one original file, over the parameter names of that half's module (<c>layers.N.*</c>, as
    /// <c>EncoderTiny</c> or <c>DecoderTiny</c> name them). Every key of the file belongs to it, so leftovers are reported.
    /// </summary>
    /// <param name="half"><see cref="TaesdParts.Encoder"/> or <see cref="TaesdParts.Decoder"/>.</param>
    /// <param name="halfParameterNames">Parameter names relative to that half.</param>
    public static WeightMap Original(TaesdParts half, IEnumerable<string> halfParameterNames)
    {
        var prefix = half switch
        {
            TaesdParts.Encoder => "encoder.",
            TaesdParts.Decoder => "decoder.",
            _ => throw new ArgumentOutOfRangeException(nameof(half), half, "One original file holds the encoder or the decoder."),
        };
        return new WeightMap(
            halfParameterNames.ToDictionary(n => n, n => new TensorRef(OriginalKey(prefix + n)), StringComparer.Ordinal),
            _ => true,
            WeightMap.IsCommonlyIgnorable);
    }
}
