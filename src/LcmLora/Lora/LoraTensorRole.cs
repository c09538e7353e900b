namespace LcmLora.Lora;

/// <summary>What one tensor of a LoRA module holds.</summary>
internal enum LoraTensorRole
{
    /// <summary>Low-rank down projection A: <c>[r, in]</c> or <c>[r, in, kh, kw]</c> (kohya <c>lora_down</c>, PEFT <c>lora_A</c>).</summary>
    Down,
    /// <summary>Low-rank up projection B: <c>[out, r]</c> or <c>[out, r, 1, 1]</c> (kohya <c>lora_up</c>, PEFT <c>lora_B</c>).</summary>
    Up,
    /// <summary>Tucker core of a conv LoRA (LoCon <c>lora_mid</c>): <c>[r, r, kh, kw]</c>.</summary>
    Mid,
    /// <summary>The scalar alpha; the delta is scaled by alpha / rank.</summary>
    Alpha,
    /// <summary>DoRA magnitude vector (kohya/LyCORIS <c>dora_scale</c>, PEFT <c>lora_magnitude_vector</c>).</summary>
    DoraScale,
    /// <summary>LoHa first pair, left factor.</summary>
    HadaW1A,
    /// <summary>LoHa first pair, right factor.</summary>
    HadaW1B,
    /// <summary>LoHa second pair, left factor.</summary>
    HadaW2A,
    /// <summary>LoHa second pair, right factor.</summary>
    HadaW2B,
    /// <summary>LoHa Tucker core of the first pair.</summary>
    HadaT1,
    /// <summary>LoHa Tucker core of the second pair.</summary>
    HadaT2,
    /// <summary>LoKr left Kronecker factor, stored whole.</summary>
    LokrW1,
    /// <summary>LoKr left Kronecker factor, low-rank left half.</summary>
    LokrW1A,
    /// <summary>LoKr left Kronecker factor, low-rank right half.</summary>
    LokrW1B,
    /// <summary>LoKr right Kronecker factor, stored whole.</summary>
    LokrW2,
    /// <summary>LoKr right Kronecker factor, low-rank left half.</summary>
    LokrW2A,
    /// <summary>LoKr right Kronecker factor, low-rank right half.</summary>
    LokrW2B,
    /// <summary>LoKr Tucker core of the right factor.</summary>
    LokrT2,
}

/// <summary>The key family a suffix belongs to (used to describe a file's format).</summary>
internal enum SuffixFamily
{
    /// <summary>Neutral (<c>.alpha</c>, <c>.dora_scale</c>).</summary>
    Neutral,
    /// <summary>kohya / LoCon (<c>.lora_down.weight</c>).</summary>
    Kohya,
    /// <summary>PEFT (<c>.lora_A.weight</c>).</summary>
    Peft,
    /// <summary>diffusers before PEFT (<c>.down.weight</c> under <c>_lora</c>, <c>.lora</c>, <c>.lora_linear_layer</c>).</summary>
    Legacy,
    /// <summary>LyCORIS LoHa/LoKr.</summary>
    Lycoris,
}

/// <summary>The fixed tensor-name suffixes that end a LoRA module key. Matched longest first.</summary>
internal static class LoraKeySuffixes
{
    private static readonly (string Suffix, LoraTensorRole Role, SuffixFamily Family)[] Table =
    [
        (".lora_down.weight", LoraTensorRole.Down, SuffixFamily.Kohya),
        (".lora_up.weight", LoraTensorRole.Up, SuffixFamily.Kohya),
        (".lora_mid.weight", LoraTensorRole.Mid, SuffixFamily.Kohya),
        (".lora_A.weight", LoraTensorRole.Down, SuffixFamily.Peft),
        (".lora_B.weight", LoraTensorRole.Up, SuffixFamily.Peft),
        (".lora_magnitude_vector.weight", LoraTensorRole.DoraScale, SuffixFamily.Peft),
        (".lora_magnitude_vector", LoraTensorRole.DoraScale, SuffixFamily.Peft),
        (".down.weight", LoraTensorRole.Down, SuffixFamily.Legacy),
        (".up.weight", LoraTensorRole.Up, SuffixFamily.Legacy),
        (".alpha", LoraTensorRole.Alpha, SuffixFamily.Neutral),
        (".dora_scale", LoraTensorRole.DoraScale, SuffixFamily.Neutral),
        (".hada_w1_a", LoraTensorRole.HadaW1A, SuffixFamily.Lycoris),
        (".hada_w1_b", LoraTensorRole.HadaW1B, SuffixFamily.Lycoris),
        (".hada_w2_a", LoraTensorRole.HadaW2A, SuffixFamily.Lycoris),
        (".hada_w2_b", LoraTensorRole.HadaW2B, SuffixFamily.Lycoris),
        (".hada_t1", LoraTensorRole.HadaT1, SuffixFamily.Lycoris),
        (".hada_t2", LoraTensorRole.HadaT2, SuffixFamily.Lycoris),
        (".lokr_w1", LoraTensorRole.LokrW1, SuffixFamily.Lycoris),
        (".lokr_w1_a", LoraTensorRole.LokrW1A, SuffixFamily.Lycoris),
        (".lokr_w1_b", LoraTensorRole.LokrW1B, SuffixFamily.Lycoris),
        (".lokr_w2", LoraTensorRole.LokrW2, SuffixFamily.Lycoris),
        (".lokr_w2_a", LoraTensorRole.LokrW2A, SuffixFamily.Lycoris),
        (".lokr_w2_b", LoraTensorRole.LokrW2B, SuffixFamily.Lycoris),
        (".lokr_t2", LoraTensorRole.LokrT2, SuffixFamily.Lycoris),
    ];

    private static readonly (string Suffix, LoraTensorRole Role, SuffixFamily Family)[] LongestFirst =
        Table.OrderByDescending(t => t.Suffix.Length).ToArray();

    /// <summary>Splits a tensor key into module key and role, or returns false when no known suffix ends it.</summary>
    public static bool TrySplit(string key, out string moduleKey, out LoraTensorRole role, out SuffixFamily family)
    {
        foreach (var (suffix, r, f) in LongestFirst)
        {
            if (key.Length > suffix.Length && key.EndsWith(suffix, StringComparison.Ordinal))
            {
                moduleKey = key[..^suffix.Length];
                role = r;
                family = f;
                return true;
            }
        }
        moduleKey = "";
        role = default;
        family = default;
        return false;
    }
}
