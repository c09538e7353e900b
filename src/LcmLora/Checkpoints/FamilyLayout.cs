using LcmLora.Models;

namespace LcmLora.Checkpoints;

/// <summary>Where a text encoder lives in a single file and in which naming.</summary>
/// <param name="Prefix">Key prefix (e.g. <c>conditioner.embedders.1.model.</c>).</param>
/// <param name="OpenClip">True for open_clip names (fused in_proj, transposed text_projection), false for transformers names.</param>
internal sealed record TextEncoderLayout(string Prefix, bool OpenClip);

/// <summary>
/// A family's original single-file layout: the UNet under <c>model.diffusion_model.</c>, the VAE under
/// <c>first_stage_model.</c>, and per family where its text encoders are (SDXL: CLIP-L and bigG under
/// <c>conditioner.embedders.0/1</c>; refiner: bigG alone under <c>conditioner.embedders.0.model.</c>; SD 1.x: CLIP-L under
/// <c>cond_stage_model.transformer.</c>). The family is recognized from those prefixes, or for a UNet-only file from
/// whether the UNet has an add-embedding (<c>label_emb</c>).
/// </summary>
internal sealed record FamilyLayout(ModelFamily Family, IReadOnlyDictionary<ModelComponent, TextEncoderLayout> TextEncoders)
{
    public static FamilyLayout Sdxl { get; } = new(ModelFamily.Sdxl, new Dictionary<ModelComponent, TextEncoderLayout>
    {
        [ModelComponent.TextEncoder] = new(ClipSgmKeyMap.ClipLPrefix, OpenClip: false),
        [ModelComponent.TextEncoder2] = new(ClipSgmKeyMap.BigGPrefix, OpenClip: true),
    });

    public static FamilyLayout SdxlRefiner { get; } = new(ModelFamily.SdxlRefiner, new Dictionary<ModelComponent, TextEncoderLayout>
    {
        [ModelComponent.TextEncoder2] = new(ClipSgmKeyMap.RefinerBigGPrefix, OpenClip: true),
    });

    public static FamilyLayout Sd15 { get; } = new(ModelFamily.Sd15, new Dictionary<ModelComponent, TextEncoderLayout>
    {
        [ModelComponent.TextEncoder] = new(ClipSgmKeyMap.LdmClipPrefix, OpenClip: false),
    });

    private static readonly FamilyLayout[] All = [Sdxl, SdxlRefiner, Sd15];

    /// <summary>Every key prefix a component of any family uses in a single file.</summary>
    public static IEnumerable<string> AllPrefixes =>
        All.SelectMany(f => f.TextEncoders.Values.Select(t => t.Prefix)).Append(UNetSgmNames.CheckpointPrefix).Append(VaeSgmNames.CheckpointPrefix).Distinct();

    /// <summary>The layout of <paramref name="family"/>.</summary>
    public static FamilyLayout Of(ModelFamily family) => All.First(f => f.Family.Name == family.Name);

    /// <summary>Recognizes the family of a single file from its keys.</summary>
    public static FamilyLayout Detect(IEnumerable<string> keys)
    {
        var list = keys as ICollection<string> ?? keys.ToList();
        foreach (var layout in All)
            if (layout.TextEncoders.Count == layout.Family.Components.Count(c => c is ModelComponent.TextEncoder or ModelComponent.TextEncoder2)
                && layout.TextEncoders.Values.All(t => list.Any(k => k.StartsWith(t.Prefix, StringComparison.Ordinal))))
                return layout;
        // A file with some or no text encoders (a UNet-only LCM file, say): SDXL-family UNets have an add-embedding.
        if (list.Any(k => k.StartsWith(ClipSgmKeyMap.LdmClipPrefix, StringComparison.Ordinal))) return Sd15;
        if (list.Any(k => k.StartsWith(ClipSgmKeyMap.ClipLPrefix, StringComparison.Ordinal))) return Sdxl;
        return list.Contains(UNetSgmNames.CheckpointPrefix + "label_emb.0.0.weight") ? Sdxl : Sd15;
    }

    /// <summary>The components of the family that have keys in the file.</summary>
    public IReadOnlyList<ModelComponent> PresentIn(IEnumerable<string> keys)
    {
        var list = keys as ICollection<string> ?? keys.ToList();
        return Family.Components.Where(c => list.Any(k => k.StartsWith(PrefixOf(c), StringComparison.Ordinal))).ToList();
    }

    /// <summary>The key prefix of a component.</summary>
    public string PrefixOf(ModelComponent component) => component switch
    {
        ModelComponent.Unet => UNetSgmNames.CheckpointPrefix,
        ModelComponent.Vae => VaeSgmNames.CheckpointPrefix,
        _ => TextEncoders.TryGetValue(component, out var t) ? t.Prefix : $"({component.Name()} is not part of {Family.Name})",
    };
}
