namespace LcmLora.Checkpoints;

/// <summary>
/// Where SDXL's two text encoders live in an original (SGM, <c>sd_xl_base_1.0.safetensors</c>-style) single file.
/// CLIP-L is stored in the transformers layout under <see cref="ClipLPrefix"/>; OpenCLIP bigG in open_clip's own
/// layout under <see cref="BigGPrefix"/> (fused q/k/v <c>in_proj</c>, transposed <c>text_projection</c>). Both maps
/// are built forward from our parameter names (those of <c>LcmLora.Models.Clip.ClipTextModel</c>).
/// </summary>
internal static class ClipSgmKeyMap
{
    /// <summary>Key prefix of the CLIP-L text encoder (<c>text_encoder</c>) in an SGM file.</summary>
    public const string ClipLPrefix = "conditioner.embedders.0.transformer.";

    /// <summary>Key prefix of the OpenCLIP bigG text encoder (<c>text_encoder_2</c>) in an SGM file.</summary>
    public const string BigGPrefix = "conditioner.embedders.1.model.";

    /// <summary>Key prefix of the SDXL refiner's only text encoder (OpenCLIP bigG, <c>text_encoder_2</c>).</summary>
    public const string RefinerBigGPrefix = "conditioner.embedders.0.model.";

    /// <summary>Key prefix of SD 1.x's CLIP-L (<c>text_encoder</c>) in the original LDM single file.</summary>
    public const string LdmClipPrefix = "cond_stage_model.transformer.";

    private const string LayerPrefix = "text_model.encoder.layers.";

    private static readonly Dictionary<string, TensorRef> BigGTopLevel = new(StringComparer.Ordinal)
    {
        ["text_model.embeddings.token_embedding.weight"] = new("token_embedding.weight"),
        ["text_model.embeddings.position_embedding.weight"] = new("positional_embedding"),
        ["text_model.final_layer_norm.weight"] = new("ln_final.weight"),
        ["text_model.final_layer_norm.bias"] = new("ln_final.bias"),
        ["text_projection.weight"] = new("text_projection", TensorTransform.Transpose),
    };

    // Inside text_model.encoder.layers.N. -> inside transformer.resblocks.N.
    private static readonly Dictionary<string, TensorRef> BigGLayer = new(StringComparer.Ordinal)
    {
        ["layer_norm1.weight"] = new("ln_1.weight"),
        ["layer_norm1.bias"] = new("ln_1.bias"),
        ["layer_norm2.weight"] = new("ln_2.weight"),
        ["layer_norm2.bias"] = new("ln_2.bias"),
        ["self_attn.q_proj.weight"] = new("attn.in_proj_weight", Part: 0, Parts: 3),
        ["self_attn.k_proj.weight"] = new("attn.in_proj_weight", Part: 1, Parts: 3),
        ["self_attn.v_proj.weight"] = new("attn.in_proj_weight", Part: 2, Parts: 3),
        ["self_attn.q_proj.bias"] = new("attn.in_proj_bias", Part: 0, Parts: 3),
        ["self_attn.k_proj.bias"] = new("attn.in_proj_bias", Part: 1, Parts: 3),
        ["self_attn.v_proj.bias"] = new("attn.in_proj_bias", Part: 2, Parts: 3),
        ["self_attn.out_proj.weight"] = new("attn.out_proj.weight"),
        ["self_attn.out_proj.bias"] = new("attn.out_proj.bias"),
        ["mlp.fc1.weight"] = new("mlp.c_fc.weight"),
        ["mlp.fc1.bias"] = new("mlp.c_fc.bias"),
        ["mlp.fc2.weight"] = new("mlp.c_proj.weight"),
        ["mlp.fc2.bias"] = new("mlp.c_proj.bias"),
    };

    /// <summary>SDXL <c>text_encoder</c> (CLIP-L): our name with <see cref="ClipLPrefix"/> in front.</summary>
    /// <param name="ourNames">The parameter names of the CLIP-L <c>ClipTextModel</c> (its <c>state_dict()</c> keys).</param>
    /// <param name="prefix">The key prefix (SDXL <see cref="ClipLPrefix"/>, SD 1.x <see cref="LdmClipPrefix"/>).</param>
    public static WeightMap ForClipL(IEnumerable<string> ourNames, string prefix = ClipLPrefix) => WeightMap.Identity(ourNames, prefix);

    /// <summary>
    /// SDXL <c>text_encoder_2</c> (OpenCLIP bigG) in open_clip names under <see cref="BigGPrefix"/>: q, k and v are
    /// row blocks 0, 1, 2 of <c>attn.in_proj_weight</c>/<c>in_proj_bias</c>; <c>text_projection</c> is stored transposed.
    /// </summary>
    /// <param name="ourNames">The parameter names of the bigG <c>ClipTextModel</c> (its <c>state_dict()</c> keys).</param>
    /// <exception cref="ArgumentException">A name is not a CLIP text-encoder parameter.</exception>
    /// <param name="prefix">The key prefix (SDXL <see cref="BigGPrefix"/>, refiner <see cref="RefinerBigGPrefix"/>).</param>
    public static WeightMap ForOpenClipBigG(IEnumerable<string> ourNames, string prefix = BigGPrefix)
    {
        var entries = new Dictionary<string, TensorRef>(StringComparer.Ordinal);
        foreach (var name in ourNames)
            entries.Add(name, OpenClipRef(name, prefix));
        return new WeightMap(entries, k => k.StartsWith(prefix, StringComparison.Ordinal), WeightMap.IsCommonlyIgnorable);
    }

    private static TensorRef OpenClipRef(string ourName, string prefix)
    {
        if (BigGTopLevel.TryGetValue(ourName, out var top)) return top with { Key = prefix + top.Key };
        if (ourName.StartsWith(LayerPrefix, StringComparison.Ordinal))
        {
            var rest = ourName.AsSpan(LayerPrefix.Length);
            var dot = rest.IndexOf('.');
            if (dot > 0 && int.TryParse(rest[..dot], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var layer)
                && BigGLayer.TryGetValue(rest[(dot + 1)..].ToString(), out var inLayer))
                return inLayer with { Key = $"{prefix}transformer.resblocks.{layer}.{inLayer.Key}" };
        }
        throw new ArgumentException($"'{ourName}' is not a parameter of a CLIP text encoder; no open_clip key is known for it.", nameof(ourName));
    }
}
