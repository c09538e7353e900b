using System.Text.RegularExpressions;

namespace LcmLora.Checkpoints;

/// <summary>
/// Renders our UNet module paths (diffusers naming: <c>down_blocks.1.attentions.0.proj_in</c>) into the original
/// single-file (SGM) naming (<c>input_blocks.4.1.proj_in</c>). Used for checkpoint keys (with the
/// <c>model.diffusion_model.</c> prefix) and for kohya LoRA names (<c>lora_unet_input_blocks_4_1_proj_in</c>).
/// </summary>
internal sealed class UNetSgmNames
{
    /// <summary>The SGM single-file prefix of UNet keys.</summary>
    public const string CheckpointPrefix = "model.diffusion_model.";

    private readonly NameRule[] _rules;

    /// <summary>Builds the table for a UNet.</summary>
    /// <param name="ourModulePaths">Our module or parameter names (used to see which up blocks have attentions).</param>
    /// <param name="layersPerBlock">The config's layers_per_block (SDXL: 2).</param>
    public UNetSgmNames(IEnumerable<string> ourModulePaths, int layersPerBlock)
    {
        var span = layersPerBlock + 1;
        var upWithAttention = ourModulePaths
            .Select(p => Regex.Match(p, @"^up_blocks\.(\d+)\.attentions\."))
            .Where(m => m.Success).Select(m => NameRule.Int(m, "1")).ToHashSet();
        _rules =
        [
            NameRule.Fixed("time_embedding.linear_1", "time_embed.0"),
            NameRule.Fixed("time_embedding.linear_2", "time_embed.2"),
            // Full LCM UNets' guidance projection: no converter defines an original-layout name; this is the one the
            // fixtures (and the natural reading of time_embed.*) use.
            NameRule.Fixed("time_embedding.cond_proj", "time_embed.cond_proj"),
            NameRule.Fixed("add_embedding.linear_1", "label_emb.0.0"),
            NameRule.Fixed("add_embedding.linear_2", "label_emb.0.2"),
            NameRule.Fixed("conv_in", "input_blocks.0.0"),
            NameRule.Fixed("conv_norm_out", "out.0"),
            NameRule.Fixed("conv_out", "out.2"),
            NameRule.Of(@"down_blocks\.(?<b>\d+)\.resnets\.(?<j>\d+)\.(?<r>.+)",
                m => $"input_blocks.{1 + NameRule.Int(m, "b") * span + NameRule.Int(m, "j")}.0.{Resnet(m.Groups["r"].Value)}"),
            NameRule.Of(@"down_blocks\.(?<b>\d+)\.attentions\.(?<j>\d+)\.(?<r>.+)",
                m => $"input_blocks.{1 + NameRule.Int(m, "b") * span + NameRule.Int(m, "j")}.1.{m.Groups["r"].Value}"),
            NameRule.Of(@"down_blocks\.(?<b>\d+)\.downsamplers\.0\.conv",
                m => $"input_blocks.{(NameRule.Int(m, "b") + 1) * span}.0.op"),
            NameRule.Of(@"mid_block\.resnets\.0\.(?<r>.+)", m => $"middle_block.0.{Resnet(m.Groups["r"].Value)}"),
            NameRule.Of(@"mid_block\.attentions\.0\.(?<r>.+)", m => $"middle_block.1.{m.Groups["r"].Value}"),
            NameRule.Of(@"mid_block\.resnets\.1\.(?<r>.+)", m => $"middle_block.2.{Resnet(m.Groups["r"].Value)}"),
            NameRule.Of(@"up_blocks\.(?<b>\d+)\.resnets\.(?<j>\d+)\.(?<r>.+)",
                m => $"output_blocks.{NameRule.Int(m, "b") * span + NameRule.Int(m, "j")}.0.{Resnet(m.Groups["r"].Value)}"),
            NameRule.Of(@"up_blocks\.(?<b>\d+)\.attentions\.(?<j>\d+)\.(?<r>.+)",
                m => $"output_blocks.{NameRule.Int(m, "b") * span + NameRule.Int(m, "j")}.1.{m.Groups["r"].Value}"),
            NameRule.Of(@"up_blocks\.(?<b>\d+)\.upsamplers\.0\.conv",
                m => $"output_blocks.{NameRule.Int(m, "b") * span + layersPerBlock}.{(upWithAttention.Contains(NameRule.Int(m, "b")) ? 2 : 1)}.conv"),
        ];
    }

    private static readonly Dictionary<string, string> ResnetNames = new(StringComparer.Ordinal)
    {
        ["norm1"] = "in_layers.0", ["conv1"] = "in_layers.2", ["time_emb_proj"] = "emb_layers.1",
        ["norm2"] = "out_layers.0", ["conv2"] = "out_layers.3", ["conv_shortcut"] = "skip_connection",
    };

    private static string Resnet(string rest) => ResnetNames.TryGetValue(rest, out var sgm) ? sgm : rest;

    /// <summary>The SGM module path for one of our module paths, or null when it has none.</summary>
    public string? Module(string ourModulePath) => NameRule.Apply(_rules, ourModulePath);

    /// <summary>The SGM parameter name (without prefix) for one of our parameter names.</summary>
    public string? Parameter(string ourParameterName)
    {
        var (module, leaf) = NameRule.Split(ourParameterName);
        var sgm = Module(module);
        return sgm is null ? null : sgm + "." + leaf;
    }

    /// <summary>The checkpoint map for a single file (keys under <see cref="CheckpointPrefix"/>).</summary>
    public WeightMap CheckpointMap(IEnumerable<string> ourParameterNames) =>
        new(ourParameterNames.ToDictionary(n => n, n => new TensorRef(CheckpointPrefix + (Parameter(n) ?? n)), StringComparer.Ordinal),
            k => k.StartsWith(CheckpointPrefix, StringComparison.Ordinal),
            WeightMap.IsCommonlyIgnorable);
}
