namespace LcmLora.Lora;

/// <summary>Key conventions found in a LoRA file (several when a file mixes them).</summary>
[Flags]
public enum LoraKeyStyle
{
    /// <summary>No recognizable LoRA key.</summary>
    None = 0,
    /// <summary>kohya / sd-scripts and LyCORIS: <c>lora_unet_...</c>, <c>lora_te1_...</c> with <c>.lora_down.weight</c>, <c>.hada_w1_a</c>, ...</summary>
    Kohya = 1,
    /// <summary>PEFT / current diffusers: <c>unet.&lt;path&gt;.lora_A.weight</c>.</summary>
    Peft = 2,
    /// <summary>diffusers before PEFT: <c>...processor.to_q_lora.down.weight</c>, <c>.lora.down.weight</c>, <c>lora_linear_layer</c>.</summary>
    DiffusersLegacy = 4,
}

/// <summary>Which UNet naming a kohya-style file uses under <c>lora_unet_</c>.</summary>
[Flags]
public enum LoraUNetNaming
{
    /// <summary>No kohya UNet block keys.</summary>
    None = 0,
    /// <summary>diffusers module names (<c>lora_unet_down_blocks_1_attentions_0_...</c>), as in the released LCM-LoRA SDXL file.</summary>
    Diffusers = 1,
    /// <summary>Original SGM module names (<c>lora_unet_input_blocks_4_1_...</c>), as sd-scripts' SDXL trainer writes.</summary>
    Sgm = 2,
}

/// <summary>The adapter algorithms present in a file.</summary>
[Flags]
public enum LoraAlgorithms
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>Plain low-rank (Linear or 1x1 conv).</summary>
    LoRA = 1,
    /// <summary>Low-rank on k x k convolutions (LoCon: k x k down, 1x1 up).</summary>
    LoCon = 2,
    /// <summary>Tucker cores (<c>lora_mid</c>, <c>hada_t1/t2</c>, <c>lokr_t2</c>).</summary>
    Tucker = 4,
    /// <summary>LyCORIS LoHa (Hadamard product of two low-rank products).</summary>
    LoHa = 8,
    /// <summary>LyCORIS LoKr (Kronecker product).</summary>
    LoKr = 16,
    /// <summary>DoRA magnitude vectors.</summary>
    DoRA = 32,
}

/// <summary>What a LoRA file was detected to be.</summary>
/// <param name="KeyStyle">Key conventions.</param>
/// <param name="UNetNaming">UNet naming of kohya keys.</param>
/// <param name="Algorithms">Adapter algorithms.</param>
/// <param name="Components">Components the keys' prefixes address (see <see cref="LoraComponents"/>).</param>
public sealed record LoraFormat(LoraKeyStyle KeyStyle, LoraUNetNaming UNetNaming, LoraAlgorithms Algorithms, IReadOnlyList<string> Components)
{
    /// <summary>A one-line description, e.g. <c>Kohya (UNet names: Sgm); LoRA, LoCon; unet, text_encoder</c>.</summary>
    public override string ToString()
    {
        var naming = UNetNaming == LoraUNetNaming.None ? "" : $" (UNet names: {UNetNaming})";
        return $"{KeyStyle}{naming}; {Algorithms}; {string.Join(", ", Components)}";
    }

    private static readonly string[] DiffusersBlocks = ["lora_unet_down_blocks_", "lora_unet_up_blocks_", "lora_unet_mid_block_"];
    private static readonly string[] SgmBlocks = ["lora_unet_input_blocks_", "lora_unet_output_blocks_", "lora_unet_middle_block_"];
    private static readonly string[] KohyaPrefixes = ["lora_unet_", "lora_te1_", "lora_te2_", "lora_te_", "lycoris_"];

    /// <summary>Describes a set of parsed modules.</summary>
    internal static LoraFormat Detect(IEnumerable<LoraModule> modules)
    {
        var style = LoraKeyStyle.None;
        var naming = LoraUNetNaming.None;
        var algorithms = LoraAlgorithms.None;
        var components = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var m in modules)
        {
            if (KohyaPrefixes.Any(p => m.Key.StartsWith(p, StringComparison.Ordinal))) style |= LoraKeyStyle.Kohya;
            if (m.Families.Contains(SuffixFamily.Peft)) style |= LoraKeyStyle.Peft;
            if (m.Families.Contains(SuffixFamily.Legacy)) style |= LoraKeyStyle.DiffusersLegacy;
            if (DiffusersBlocks.Any(p => m.Key.StartsWith(p, StringComparison.Ordinal))) naming |= LoraUNetNaming.Diffusers;
            if (SgmBlocks.Any(p => m.Key.StartsWith(p, StringComparison.Ordinal))) naming |= LoraUNetNaming.Sgm;
            algorithms |= m.Algorithm switch
            {
                LoraAlgorithm.LoHa => LoraAlgorithms.LoHa,
                LoraAlgorithm.LoKr => LoraAlgorithms.LoKr,
                _ => m.IsSpatial ? LoraAlgorithms.LoCon : LoraAlgorithms.LoRA,
            };
            if (m.IsTucker) algorithms |= LoraAlgorithms.Tucker;
            if (m.HasDora) algorithms |= LoraAlgorithms.DoRA;
            var c = LoraComponents.OfKey(m.Key);
            if (c != null) components.Add(c);
        }
        return new LoraFormat(style, naming, algorithms, components.ToList());
    }
}
