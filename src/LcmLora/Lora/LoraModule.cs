namespace LcmLora.Lora;

/// <summary>How a module's delta is built from its factors.</summary>
internal enum LoraAlgorithm
{
    /// <summary>up @ down, optionally through a Tucker core (LoRA, LoCon).</summary>
    LowRank,
    /// <summary>(w1a @ w1b) ⊙ (w2a @ w2b) (LyCORIS LoHa).</summary>
    LoHa,
    /// <summary>kron(w1, w2) (LyCORIS LoKr).</summary>
    LoKr,
}

/// <summary>
/// One adapted module of a LoRA file: its key as stored (the part before the role suffix, e.g.
/// <c>lora_unet_down_blocks_0_resnets_0_conv1</c>), its tensors, alpha and the shape of the weight delta it
/// produces. Everything here comes from the header (plus the scalar alpha), so nothing large is read.
/// </summary>
internal sealed class LoraModule
{
    private readonly Dictionary<LoraTensorRole, long[]> _shapes;

    internal LoraModule(string key, Dictionary<LoraTensorRole, string> tensorKeys, Dictionary<LoraTensorRole, long[]> shapes,
        HashSet<SuffixFamily> families, double? alpha, bool rsLora)
    {
        Key = key;
        TensorKeys = tensorKeys;
        _shapes = shapes;
        Families = families;
        Alpha = alpha;
        Algorithm = DetectAlgorithm(shapes.Keys, out var mixed);
        long[]? delta = null;
        var rank = 0;
        Problem = mixed ?? Analyze(out delta, out rank);
        DeltaShape = Problem == null ? delta! : [];
        Rank = Problem == null ? rank : 0;
        Scale = ComputeScale(rsLora);
    }

    /// <summary>The module key as stored in the file.</summary>
    public string Key { get; }

    /// <summary>How the delta is built.</summary>
    public LoraAlgorithm Algorithm { get; }

    /// <summary>The file's tensor key for each role this module has.</summary>
    public IReadOnlyDictionary<LoraTensorRole, string> TensorKeys { get; }

    /// <summary>Stored shape of a role's tensor.</summary>
    public long[] ShapeOf(LoraTensorRole role) => _shapes[role];

    /// <summary>Whether the module has a tensor for <paramref name="role"/>.</summary>
    public bool Has(LoraTensorRole role) => _shapes.ContainsKey(role);

    /// <summary>Alpha (from the <c>.alpha</c> tensor, else from PEFT metadata), or null when the file gives none.</summary>
    public double? Alpha { get; }

    /// <summary>The rank alpha is divided by (0 for a LoKr module with no low-rank side, which is not scaled).</summary>
    public int Rank { get; }

    /// <summary>The factor the raw delta is multiplied by: alpha / rank (alpha / sqrt(rank) for rsLoRA), 1 without alpha.</summary>
    public double Scale { get; }

    /// <summary>Shape of the delta as the factors produce it (reshaped onto the weight when applied).</summary>
    public long[] DeltaShape { get; }

    /// <summary>Why the module cannot be used (missing or inconsistent tensors), or null.</summary>
    public string? Problem { get; }

    /// <summary>True when a DoRA magnitude vector is present.</summary>
    public bool HasDora => Has(LoraTensorRole.DoraScale);

    /// <summary>True when a Tucker core is present.</summary>
    public bool IsTucker => Has(LoraTensorRole.Mid) || Has(LoraTensorRole.HadaT1) || Has(LoraTensorRole.LokrT2);

    /// <summary>True when the delta has a spatial kernel larger than 1x1 (LoCon and conv LyCORIS).</summary>
    public bool IsSpatial => DeltaShape.Length > 2 && DeltaShape.Skip(2).Aggregate(1L, (a, b) => a * b) > 1;

    internal HashSet<SuffixFamily> Families { get; }

    /// <summary>Shapes as text, for messages: <c>down [4, 32], up [32, 4]</c>.</summary>
    public string ShapeText => string.Join(", ", _shapes.Where(kv => kv.Key != LoraTensorRole.Alpha)
        .Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value)}]"));

    /// <summary>
    /// Whether the delta fits a weight of shape <paramref name="weightShape"/>: same output dimension, same number of
    /// elements per output, and the same kernel when the delta has one (a Linear-shaped LoRA fits a 1x1 conv).
    /// </summary>
    public bool Fits(long[] weightShape)
    {
        if (Problem != null || weightShape.Length < 2 || weightShape[0] != DeltaShape[0]) return false;
        if (Product(weightShape, 1) != Product(DeltaShape, 1)) return false;
        if (IsSpatial && !weightShape.Skip(1).SequenceEqual(DeltaShape.Skip(1))) return false;
        if ((DeltaShape.Length > 2 || weightShape.Length == 2) && weightShape[1] != DeltaShape[1]) return false;
        if (HasDora)
        {
            var n = Product(ShapeOf(LoraTensorRole.DoraScale), 0);
            if (n != weightShape[0] && n != weightShape[1]) return false;
        }
        return true;
    }

    internal static long Product(long[] shape, int from) => shape.Skip(from).Aggregate(1L, (a, b) => a * b);

    private static readonly LoraTensorRole[] LowRankRoles = [LoraTensorRole.Down, LoraTensorRole.Up, LoraTensorRole.Mid];
    private static readonly LoraTensorRole[] LoHaRoles =
        [LoraTensorRole.HadaW1A, LoraTensorRole.HadaW1B, LoraTensorRole.HadaW2A, LoraTensorRole.HadaW2B, LoraTensorRole.HadaT1, LoraTensorRole.HadaT2];
    private static readonly LoraTensorRole[] LoKrRoles =
    [
        LoraTensorRole.LokrW1, LoraTensorRole.LokrW1A, LoraTensorRole.LokrW1B,
        LoraTensorRole.LokrW2, LoraTensorRole.LokrW2A, LoraTensorRole.LokrW2B, LoraTensorRole.LokrT2,
    ];

    private static LoraAlgorithm DetectAlgorithm(IEnumerable<LoraTensorRole> roles, out string? problem)
    {
        var set = roles.ToHashSet();
        var kinds = new List<LoraAlgorithm>();
        if (set.Overlaps(LowRankRoles)) kinds.Add(LoraAlgorithm.LowRank);
        if (set.Overlaps(LoHaRoles)) kinds.Add(LoraAlgorithm.LoHa);
        if (set.Overlaps(LoKrRoles)) kinds.Add(LoraAlgorithm.LoKr);
        problem = kinds.Count switch
        {
            0 => "has only " + string.Join(" and ", set) + " tensors, no factors",
            1 => null,
            _ => "mixes tensors of " + string.Join(" and ", kinds),
        };
        return kinds.Count > 0 ? kinds[0] : LoraAlgorithm.LowRank;
    }

    private string? Analyze(out long[]? delta, out int rank)
    {
        delta = null;
        rank = 0;
        if (MissingTensors() is { } missing) return $"lacks {missing} (has {string.Join(", ", _shapes.Keys)})";
        if (_shapes.FirstOrDefault(kv => kv.Key != LoraTensorRole.Alpha && kv.Value.Contains(0L)) is { Value: not null } empty)
            return $"{empty.Key} [{string.Join(", ", empty.Value)}] is empty (rank 0?)";
        return Algorithm switch
        {
            LoraAlgorithm.LoHa => AnalyzeLoHa(out delta, out rank),
            LoraAlgorithm.LoKr => AnalyzeLoKr(out delta, out rank),
            _ => AnalyzeLowRank(out delta, out rank),
        };
    }

    /// <summary>The factor tensors the algorithm needs and the module lacks, or null when it has them all.</summary>
    private string? MissingTensors()
    {
        IEnumerable<string> Lacking(params LoraTensorRole[] roles) => roles.Where(r => !Has(r)).Select(r => r.ToString());
        var lacking = Algorithm switch
        {
            LoraAlgorithm.LoHa => Lacking(LoraTensorRole.HadaW1A, LoraTensorRole.HadaW1B, LoraTensorRole.HadaW2A, LoraTensorRole.HadaW2B).ToList(),
            LoraAlgorithm.LoKr =>
            [
                .. Has(LoraTensorRole.LokrW1) ? [] : Lacking(LoraTensorRole.LokrW1A, LoraTensorRole.LokrW1B).Select(r => r + " (or LokrW1)"),
                .. Has(LoraTensorRole.LokrW2) ? [] : Lacking(LoraTensorRole.LokrW2A, LoraTensorRole.LokrW2B).Select(r => r + " (or LokrW2)"),
            ],
            _ => Lacking(LoraTensorRole.Down, LoraTensorRole.Up).ToList(),
        };
        return lacking.Count == 0 ? null : string.Join(" and ", lacking);
    }

    private string? AnalyzeLowRank(out long[]? delta, out int rank)
    {
        delta = null;
        rank = 0;
        var down = _shapes[LoraTensorRole.Down];
        var up = _shapes[LoraTensorRole.Up];
        if (down.Length is not (2 or 4) || up.Length is not (2 or 4)) return "down and up must be 2-D or 4-D";
        if (up.Length == 4 && up[2] * up[3] != 1) return "up must be 1x1";
        rank = (int)down[0];
        if (_shapes.TryGetValue(LoraTensorRole.Mid, out var mid))
        {
            if (mid.Length != 4 || mid[1] != down[0] || up[1] != mid[0] || Product(down, 2) != 1)
                return "Tucker shapes do not chain (down [r, in, 1, 1], mid [r, r, kh, kw], up [out, r, 1, 1])";
            delta = [up[0], down[1], mid[2], mid[3]];
        }
        else
        {
            if (up[1] != down[0]) return $"up has rank {up[1]} but down has rank {down[0]}";
            delta = [up[0], .. down.Skip(1)];
        }
        return null;
    }

    private string? AnalyzeLoHa(out long[]? delta, out int rank)
    {
        delta = null;
        var w1a = _shapes[LoraTensorRole.HadaW1A];
        var w1b = _shapes[LoraTensorRole.HadaW1B];
        var w2a = _shapes[LoraTensorRole.HadaW2A];
        var w2b = _shapes[LoraTensorRole.HadaW2B];
        rank = (int)w1b[0];
        if (w1a.Length != 2 || w1b.Length != 2 || w2a.Length != 2 || w2b.Length != 2) return "hada_w* must be 2-D";
        var tucker = Has(LoraTensorRole.HadaT1);
        if (tucker != Has(LoraTensorRole.HadaT2)) return "has only one of hada_t1 and hada_t2";
        if (tucker)
        {
            var t1 = _shapes[LoraTensorRole.HadaT1];
            var t2 = _shapes[LoraTensorRole.HadaT2];
            if (t1.Length != 4 || !t1.SequenceEqual(t2) || t1[0] != w1a[0] || t1[1] != w1b[0] || t2[0] != w2a[0] || t2[1] != w2b[0]
                || w1a[1] != w2a[1] || w1b[1] != w2b[1])
                return "Tucker LoHa shapes do not chain (w_a [r, out], w_b [r, in], t [r, r, kh, kw])";
            delta = [w1a[1], w1b[1], t1[2], t1[3]];
        }
        else
        {
            if (w1a[1] != w1b[0] || w2a[1] != w2b[0] || w1a[0] != w2a[0] || w1b[1] != w2b[1])
                return "LoHa shapes do not chain (w_a [out, r], w_b [r, in])";
            delta = [w1a[0], w1b[1]];
        }
        return null;
    }

    private string? AnalyzeLoKr(out long[]? delta, out int rank)
    {
        delta = null;
        rank = 0;
        long[] w1;
        if (Has(LoraTensorRole.LokrW1)) w1 = _shapes[LoraTensorRole.LokrW1];
        else
        {
            var a = _shapes[LoraTensorRole.LokrW1A];
            var b = _shapes[LoraTensorRole.LokrW1B];
            if (a.Length != 2 || b.Length != 2 || a[1] != b[0]) return "lokr_w1_a/b do not chain";
            w1 = [a[0], b[1]];
            rank = (int)b[0];
        }
        if (w1.Length != 2) return "lokr_w1 must be 2-D";
        long[] w2;
        if (Has(LoraTensorRole.LokrW2)) w2 = _shapes[LoraTensorRole.LokrW2];
        else
        {
            var a = _shapes[LoraTensorRole.LokrW2A];
            var b = _shapes[LoraTensorRole.LokrW2B];
            if (rank == 0) rank = (int)b[0];
            if (a.Length != 2 || b.Length != 2) return "lokr_w2_a/b must be 2-D";
            if (_shapes.TryGetValue(LoraTensorRole.LokrT2, out var t2))
            {
                if (t2.Length != 4 || t2[0] != a[0] || t2[1] != b[0]) return "Tucker LoKr shapes do not chain (w2_a [r, c], w2_b [r, d], t2 [r, r, kh, kw])";
                w2 = [a[1], b[1], t2[2], t2[3]];
            }
            else
            {
                if (a[1] != b[0]) return "lokr_w2_a/b do not chain";
                w2 = [a[0], b[1]];
            }
        }
        if (w2.Length is not (2 or 4)) return "lokr_w2 must be 2-D or 4-D";
        delta = [w1[0] * w2[0], w1[1] * w2[1], .. w2.Skip(2)];
        return null;
    }

    private double ComputeScale(bool rsLora)
    {
        if (Alpha is not { } alpha) return 1.0;
        if (Rank <= 0) return 1.0;
        return rsLora ? alpha / Math.Sqrt(Rank) : alpha / Rank;
    }

    /// <summary>The key and algorithm, for messages.</summary>
    public override string ToString() => $"{Key} ({Algorithm}: {ShapeText})";
}
