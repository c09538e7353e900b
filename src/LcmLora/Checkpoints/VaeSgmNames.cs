using System.Text.RegularExpressions;

namespace LcmLora.Checkpoints;

/// <summary>
/// Renders our VAE parameter names (diffusers <c>AutoencoderKL</c> naming) into the original single-file (SGM)
/// naming under <c>first_stage_model.</c>: <c>down.N.block.M</c>, <c>mid.block_1</c>, <c>mid.attn_1.q</c>, decoder
/// up blocks in reverse order, and mid-attention projections stored as 1x1 convolutions.
/// </summary>
internal sealed class VaeSgmNames
{
    /// <summary>The SGM single-file prefix of VAE keys.</summary>
    public const string CheckpointPrefix = "first_stage_model.";

    private readonly NameRule[] _rules;

    /// <summary>Builds the table for a VAE with <paramref name="levels"/> blocks (len(block_out_channels)).</summary>
    public VaeSgmNames(int levels)
    {
        _rules =
        [
            NameRule.Of(@"(?<c>encoder|decoder)\.conv_norm_out", m => $"{m.Groups["c"].Value}.norm_out"),
            NameRule.Of(@"encoder\.down_blocks\.(?<b>\d+)\.resnets\.(?<j>\d+)\.(?<r>.+)",
                m => $"encoder.down.{m.Groups["b"].Value}.block.{m.Groups["j"].Value}.{Resnet(m.Groups["r"].Value)}"),
            NameRule.Of(@"encoder\.down_blocks\.(?<b>\d+)\.downsamplers\.0\.conv", m => $"encoder.down.{m.Groups["b"].Value}.downsample.conv"),
            NameRule.Of(@"decoder\.up_blocks\.(?<b>\d+)\.resnets\.(?<j>\d+)\.(?<r>.+)",
                m => $"decoder.up.{levels - 1 - NameRule.Int(m, "b")}.block.{m.Groups["j"].Value}.{Resnet(m.Groups["r"].Value)}"),
            NameRule.Of(@"decoder\.up_blocks\.(?<b>\d+)\.upsamplers\.0\.conv", m => $"decoder.up.{levels - 1 - NameRule.Int(m, "b")}.upsample.conv"),
            NameRule.Of(@"(?<c>encoder|decoder)\.mid_block\.resnets\.(?<j>[01])\.(?<r>.+)",
                m => $"{m.Groups["c"].Value}.mid.block_{NameRule.Int(m, "j") + 1}.{Resnet(m.Groups["r"].Value)}"),
            NameRule.Of(@"(?<c>encoder|decoder)\.mid_block\.attentions\.0\.(?<r>.+)",
                m => $"{m.Groups["c"].Value}.mid.attn_1.{Attention(m.Groups["r"].Value)}"),
        ];
    }

    private static string Resnet(string rest) => rest == "conv_shortcut" ? "nin_shortcut" : rest;

    private static string Attention(string rest) => rest switch
    {
        "group_norm" => "norm",
        "to_q" => "q",
        "to_k" => "k",
        "to_v" => "v",
        "to_out.0" => "proj_out",
        _ => rest,
    };

    /// <summary>The SGM module path for one of our module paths (unchanged when no rule applies: conv_in, quant_conv...).</summary>
    public string Module(string ourModulePath) => NameRule.Apply(_rules, ourModulePath) ?? ourModulePath;

    /// <summary>The checkpoint map for a single file; attention projection weights are stored as 1x1 convs.</summary>
    /// <param name="ourParameterNames">Our VAE's parameter names.</param>
    /// <param name="prefix">The key prefix: <c>first_stage_model.</c> in a full checkpoint, empty in a standalone VAE file.</param>
    public WeightMap CheckpointMap(IEnumerable<string> ourParameterNames, string prefix = CheckpointPrefix) =>
        new(ourParameterNames.ToDictionary(n => n, n =>
            {
                var (module, leaf) = NameRule.Split(n);
                var isAttentionProjection = leaf == "weight" && Regex.IsMatch(module, @"mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)$");
                return new TensorRef(prefix + Module(module) + "." + leaf,
                    isAttentionProjection ? TensorTransform.SqueezeConv1x1 : TensorTransform.None);
            }, StringComparer.Ordinal),
            k => k.StartsWith(prefix, StringComparison.Ordinal),
            WeightMap.IsCommonlyIgnorable);
}
