namespace LcmLora.Checkpoints;

/// <summary>
/// Renders our ControlNet parameter names (diffusers naming) into the original ControlNet single-file layout
/// (<c>control_model.input_blocks.4.1.proj_in.weight</c>, <c>control_model.zero_convs.3.0.weight</c>,
/// <c>control_model.input_hint_block.14.weight</c>, <c>control_model.middle_block_out.0.weight</c>). The encoder half
/// uses the UNet's table (<see cref="UNetSgmNames"/>), the control branch three rules of its own: the conditioning
/// embedding is one <c>nn.Sequential</c> with a SiLU after every convolution (our <c>conv_in</c> is entry 0,
/// <c>blocks.i</c> entry 2(i+1), <c>conv_out</c> the last), each zero convolution a one-layer Sequential.
/// </summary>
internal sealed class ControlNetSgmNames
{
    /// <summary>The prefix of ControlNet keys in the original files.</summary>
    public const string CheckpointPrefix = "control_model.";

    private readonly UNetSgmNames _unet;
    private readonly NameRule[] _rules;

    public ControlNetSgmNames(IEnumerable<string> ourParameterNames, int layersPerBlock, int embeddingBlocks)
    {
        _unet = new UNetSgmNames(ourParameterNames, layersPerBlock);
        _rules =
        [
            NameRule.Fixed("controlnet_cond_embedding.conv_in", "input_hint_block.0"),
            NameRule.Of(@"controlnet_cond_embedding\.blocks\.(?<i>\d+)", m => $"input_hint_block.{2 * (NameRule.Int(m, "i") + 1)}"),
            NameRule.Fixed("controlnet_cond_embedding.conv_out", $"input_hint_block.{2 * (embeddingBlocks + 1)}"),
            NameRule.Of(@"controlnet_down_blocks\.(?<i>\d+)", m => $"zero_convs.{m.Groups["i"].Value}.0"),
            NameRule.Fixed("controlnet_mid_block", "middle_block_out.0"),
        ];
    }

    /// <summary>The original name (without prefix) of one of our parameter names.</summary>
    public string? Parameter(string ourParameterName)
    {
        var (module, leaf) = NameRule.Split(ourParameterName);
        var control = NameRule.Apply(_rules, module);
        return control is not null ? control + "." + leaf : _unet.Parameter(ourParameterName);
    }

    /// <summary>The checkpoint map, keys under <paramref name="prefix"/> (<see cref="CheckpointPrefix"/> or none).</summary>
    public WeightMap CheckpointMap(IEnumerable<string> ourParameterNames, string prefix) =>
        new(ourParameterNames.ToDictionary(n => n, n => new TensorRef(prefix + (Parameter(n) ?? n)), StringComparer.Ordinal),
            k => k.StartsWith(prefix, StringComparison.Ordinal),
            WeightMap.IsCommonlyIgnorable);
}
