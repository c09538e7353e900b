using LcmLora.Models;
using System.Text.Json;
using LcmLora.Models.Blocks;

namespace LcmLora.Models.Unet;

/// <summary>
/// The architecture of an SDXL-style diffusers <c>UNet2DConditionModel</c>, with every per-block setting expanded to
/// one entry per down block (as diffusers does internally). Build it with <see cref="FromJson(string)"/> or use
/// <see cref="SdxlBase"/>; <see cref="Validate"/> rejects what <see cref="SdxlUNet"/> does not implement.
/// </summary>
internal sealed record UNetConfig
{
    /// <summary>Block type names accepted in <see cref="DownBlockTypes"/>.</summary>
    public const string DownBlock = "DownBlock2D", CrossAttnDownBlock = "CrossAttnDownBlock2D";

    /// <summary>Block type names accepted in <see cref="UpBlockTypes"/>.</summary>
    public const string UpBlock = "UpBlock2D", CrossAttnUpBlock = "CrossAttnUpBlock2D";

    /// <summary>Mid-block types accepted in <see cref="MidBlockType"/>: resnet, transformer, resnet; or one resnet
    /// (diffusers builds <c>UNetMidBlock2D</c> with <c>num_layers=0</c>: SSD-1B, Segmind Vega).</summary>
    public const string CrossAttnMidBlock = "UNetMidBlock2DCrossAttn", ResnetMidBlock = "UNetMidBlock2D";

    /// <summary>The <c>addition_embed_type</c> of SDXL-family UNets (pooled text + micro-conditioning ids).</summary>
    public const string TextTimeEmbedding = "text_time";

    /// <summary>Where the config came from (used in error messages).</summary>
    public string Source { get; init; } = nameof(UNetConfig);

    /// <summary>in_channels (latent channels in).</summary>
    public int InChannels { get; init; } = 4;

    /// <summary>out_channels (latent channels out).</summary>
    public int OutChannels { get; init; } = 4;

    /// <summary>sample_size (informational: the latent size the model was trained at).</summary>
    public int SampleSize { get; init; } = 128;

    /// <summary>center_input_sample: map the input x to 2x-1 first.</summary>
    public bool CenterInputSample { get; init; }

    /// <summary>flip_sin_to_cos of the timestep sinusoids ([cos, sin] order when true).</summary>
    public bool FlipSinToCos { get; init; } = true;

    /// <summary>freq_shift of the timestep sinusoids.</summary>
    public double FreqShift { get; init; }

    /// <summary>block_out_channels, one per level.</summary>
    public required IReadOnlyList<int> BlockOutChannels { get; init; }

    /// <summary>down_block_types (<see cref="DownBlock"/> or <see cref="CrossAttnDownBlock"/>).</summary>
    public required IReadOnlyList<string> DownBlockTypes { get; init; }

    /// <summary>up_block_types (<see cref="UpBlock"/> or <see cref="CrossAttnUpBlock"/>).</summary>
    public required IReadOnlyList<string> UpBlockTypes { get; init; }

    /// <summary>layers_per_block per down block (up blocks have one more resnet, in reverse order).</summary>
    public required IReadOnlyList<int> LayersPerBlock { get; init; }

    /// <summary>transformer_layers_per_block: per down block, the transformer depth after each resnet.</summary>
    public required IReadOnlyList<IReadOnlyList<int>> TransformerLayersPerBlock { get; init; }

    /// <summary>
    /// Per up block, the transformer depth after each of its resnets: reverse_transformer_layers_per_block when the
    /// config has it, else the down-block depths reversed (each up block then repeats its depth for all resnets).
    /// </summary>
    public required IReadOnlyList<IReadOnlyList<int>> ReverseTransformerLayersPerBlock { get; init; }

    /// <summary>
    /// Attention heads per down block. diffusers' UNet2DConditionModel takes these from <c>attention_head_dim</c>
    /// when <c>num_attention_heads</c> is null (a historical misnomer it keeps): SDXL [5, 10, 20] means 5, 10 and 20
    /// heads of width 64. The mid block uses the last entry, up blocks the list reversed.
    /// </summary>
    public required IReadOnlyList<int> AttentionHeads { get; init; }

    /// <summary>cross_attention_dim per down block (width of encoder_hidden_states).</summary>
    public required IReadOnlyList<int> CrossAttentionDim { get; init; }

    /// <summary>norm_num_groups of every GroupNorm.</summary>
    public int NormNumGroups { get; init; } = 32;

    /// <summary>norm_eps of the resnet GroupNorms and conv_norm_out.</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary>use_linear_projection of the transformers (Linear proj_in/proj_out instead of 1x1 convs).</summary>
    public bool UseLinearProjection { get; init; } = true;

    /// <summary>downsample_padding of the UNet downsamplers (1 for SDXL).</summary>
    public int DownsamplePadding { get; init; } = 1;

    /// <summary>mid_block_scale_factor: the mid-block resnets divide their output by it.</summary>
    public double MidBlockScaleFactor { get; init; } = 1.0;

    /// <summary>conv_in_kernel.</summary>
    public int ConvInKernel { get; init; } = 3;

    /// <summary>conv_out_kernel.</summary>
    public int ConvOutKernel { get; init; } = 3;

    /// <summary>time_embedding_dim, or null for 4 * block_out_channels[0].</summary>
    public int? TimeEmbeddingDim { get; init; }

    /// <summary>mid_block_type: <see cref="CrossAttnMidBlock"/> (default), <see cref="ResnetMidBlock"/>, or null for none.</summary>
    public string? MidBlockType { get; init; } = CrossAttnMidBlock;

    /// <summary>
    /// time_cond_proj_dim: width of the guidance-scale embedding of full LCM UNets (<c>time_embedding.cond_proj</c>),
    /// or null. Such UNets take the guidance as an input and never run classifier-free guidance.
    /// </summary>
    public int? TimeCondProjDim { get; init; }

    /// <summary>addition_embed_type: <see cref="TextTimeEmbedding"/> (SDXL family) or null (SD 1.x: no added conditioning).</summary>
    public string? AdditionEmbedType { get; init; } = TextTimeEmbedding;

    /// <summary>addition_time_embed_dim: sinusoid width of each micro-conditioning id (SDXL 256); null without added conditioning.</summary>
    public int? AdditionTimeEmbedDim { get; init; }

    /// <summary>projection_class_embeddings_input_dim: pooled text width + ids * addition_time_embed_dim (SDXL 2816);
    /// null without added conditioning.</summary>
    public int? ProjectionClassEmbeddingsInputDim { get; init; }

    /// <summary>Whether the UNet takes pooled text and micro-conditioning ids (<c>add_embedding</c>).</summary>
    public bool HasAddedConditioning => AdditionEmbedType is not null;

    /// <summary>Width of the time embedding every resnet receives.</summary>
    public int TimeEmbedDim => TimeEmbeddingDim ?? BlockOutChannels[0] * 4;

    /// <summary>Number of resolution levels.</summary>
    public int Levels => BlockOutChannels.Count;

    /// <summary>The SDXL base 1.0 UNet (stabilityai/stable-diffusion-xl-base-1.0, unet/config.json).</summary>
    public static UNetConfig SdxlBase { get; } = new()
    {
        Source = "UNetConfig.SdxlBase",
        SampleSize = 128,
        BlockOutChannels = [320, 640, 1280],
        DownBlockTypes = [DownBlock, CrossAttnDownBlock, CrossAttnDownBlock],
        UpBlockTypes = [CrossAttnUpBlock, CrossAttnUpBlock, UpBlock],
        LayersPerBlock = [2, 2, 2],
        TransformerLayersPerBlock = [[1, 1], [2, 2], [10, 10]],
        ReverseTransformerLayersPerBlock = [[10, 10, 10], [2, 2, 2], [1, 1, 1]],
        AttentionHeads = [5, 10, 20],
        CrossAttentionDim = [2048, 2048, 2048],
        AdditionTimeEmbedDim = 256,
        ProjectionClassEmbeddingsInputDim = 2816,
    };

    /// <summary>The Stable Diffusion 1.5 UNet (runwayml/stable-diffusion-v1-5, unet/config.json): no added conditioning,
    /// 8 heads per level, 1x1-convolution projections, cross-attention width 768.</summary>
    public static UNetConfig Sd15 { get; } = new()
    {
        Source = "UNetConfig.Sd15",
        SampleSize = 64,
        BlockOutChannels = [320, 640, 1280, 1280],
        DownBlockTypes = [CrossAttnDownBlock, CrossAttnDownBlock, CrossAttnDownBlock, DownBlock],
        UpBlockTypes = [UpBlock, CrossAttnUpBlock, CrossAttnUpBlock, CrossAttnUpBlock],
        LayersPerBlock = [2, 2, 2, 2],
        TransformerLayersPerBlock = [[1, 1], [1, 1], [1, 1], [1, 1]],
        ReverseTransformerLayersPerBlock = [[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]],
        AttentionHeads = [8, 8, 8, 8],
        CrossAttentionDim = [768, 768, 768, 768],
        UseLinearProjection = false,
        AdditionEmbedType = null,
    };

    /// <summary>
    /// Reads a diffusers <c>unet/config.json</c>. Missing required fields, malformed values and features this
    /// library does not implement throw <see cref="ModelConfigException"/> naming the file and field.
    /// </summary>
    public static UNetConfig FromJson(string configJsonPath) => FromJson(DiffusersConfigJson.Load(configJsonPath));

    /// <summary>
    /// Reads a parsed config (a file, or fields merged from shapes, defaults and a user config).
    /// <paramref name="upBlockTypes"/> stands in for <c>up_block_types</c> in configs that have none (a ControlNet's
    /// config describes only the encoder half).
    /// </summary>
    internal static UNetConfig FromJson(DiffusersConfigJson j, IReadOnlyList<string>? upBlockTypes = null)
    {
        var configJsonPath = j.File;
        RejectUnsupported(j);
        var blockOut = j.IntList("block_out_channels");
        var n = blockOut.Count;
        var layers = j.IntOrList("layers_per_block", n, 2);
        var transformerLayers = ReadTransformerLayers(j, "transformer_layers_per_block", layers, n);
        IReadOnlyList<IReadOnlyList<int>> reverse;
        if (j.Has("reverse_transformer_layers_per_block"))
            reverse = ReadNested(j, "reverse_transformer_layers_per_block", layers.Reverse().Select(l => l + 1).ToArray());
        else if (transformerLayers.Any(t => t.Distinct().Count() > 1))
            throw j.Error("reverse_transformer_layers_per_block", "is required when transformer_layers_per_block lists per-layer depths");
        else
            reverse = transformerLayers.Reverse().Select((t, i) => (IReadOnlyList<int>)Enumerable.Repeat(t[0], layers[n - 1 - i] + 1).ToArray()).ToArray();
        if (j.Has("num_attention_heads"))
            throw j.Error("num_attention_heads", "must be null: diffusers' UNet2DConditionModel reads the head count from attention_head_dim");

        var config = new UNetConfig
        {
            Source = configJsonPath,
            InChannels = j.Int("in_channels", 4),
            OutChannels = j.Int("out_channels", 4),
            SampleSize = j.Raw("sample_size") is { ValueKind: JsonValueKind.Number } s ? j.AsInt("sample_size", s) : 0,
            CenterInputSample = j.Bool("center_input_sample", false),
            FlipSinToCos = j.Bool("flip_sin_to_cos", true),
            FreqShift = j.Double("freq_shift", 0),
            BlockOutChannels = blockOut,
            DownBlockTypes = j.StringList("down_block_types"),
            UpBlockTypes = upBlockTypes ?? j.StringList("up_block_types"),
            LayersPerBlock = layers,
            TransformerLayersPerBlock = transformerLayers,
            ReverseTransformerLayersPerBlock = reverse,
            AttentionHeads = j.IntOrList("attention_head_dim", n),
            CrossAttentionDim = j.IntOrList("cross_attention_dim", n),
            NormNumGroups = j.IsNull("norm_num_groups")
                ? throw j.Error("norm_num_groups", "null (no output GroupNorm) is not supported")
                : j.Int("norm_num_groups", 32),
            NormEps = j.Double("norm_eps", 1e-5),
            UseLinearProjection = j.Bool("use_linear_projection", false),
            DownsamplePadding = j.Int("downsample_padding", 1),
            MidBlockScaleFactor = j.Double("mid_block_scale_factor", 1),
            ConvInKernel = j.Int("conv_in_kernel", 3),
            ConvOutKernel = j.Int("conv_out_kernel", 3),
            TimeEmbeddingDim = j.OptionalInt("time_embedding_dim"),
            MidBlockType = j.IsNull("mid_block_type") ? null : j.String("mid_block_type", CrossAttnMidBlock),
            TimeCondProjDim = j.OptionalInt("time_cond_proj_dim"),
            AdditionEmbedType = j.String("addition_embed_type"),
            AdditionTimeEmbedDim = j.Has("addition_embed_type") ? j.Int("addition_time_embed_dim") : null,
            ProjectionClassEmbeddingsInputDim = j.Has("addition_embed_type") ? j.Int("projection_class_embeddings_input_dim") : null,
        };
        config.Validate();
        return config;
    }

    /// <summary>Checks that the lists agree with each other and that every value is one this library implements.</summary>
    public void Validate()
    {
        var n = BlockOutChannels.Count;
        if (n == 0) throw Fail("block_out_channels", "is empty");
        void SameLength<T>(IReadOnlyList<T> list, string field)
        {
            if (list.Count != n) throw Fail(field, $"has {list.Count} entries but block_out_channels has {n}");
        }
        SameLength(DownBlockTypes, "down_block_types");
        SameLength(UpBlockTypes, "up_block_types");
        SameLength(LayersPerBlock, "layers_per_block");
        SameLength(TransformerLayersPerBlock, "transformer_layers_per_block");
        SameLength(ReverseTransformerLayersPerBlock, "reverse_transformer_layers_per_block");
        SameLength(AttentionHeads, "attention_head_dim");
        SameLength(CrossAttentionDim, "cross_attention_dim");
        foreach (var t in DownBlockTypes)
            if (t is not (DownBlock or CrossAttnDownBlock)) throw Fail("down_block_types", $"'{t}' is not supported (only {DownBlock}, {CrossAttnDownBlock})");
        foreach (var t in UpBlockTypes)
            if (t is not (UpBlock or CrossAttnUpBlock)) throw Fail("up_block_types", $"'{t}' is not supported (only {UpBlock}, {CrossAttnUpBlock})");
        for (var i = 0; i < n; i++)
        {
            if (BlockOutChannels[i] <= 0 || BlockOutChannels[i] % NormNumGroups != 0)
                throw Fail("block_out_channels", $"{BlockOutChannels[i]} is not a positive multiple of norm_num_groups {NormNumGroups}");
            if (LayersPerBlock[i] <= 0) throw Fail("layers_per_block", "must be positive");
            if (TransformerLayersPerBlock[i].Count != LayersPerBlock[i])
                throw Fail("transformer_layers_per_block", $"block {i} lists {TransformerLayersPerBlock[i].Count} depths for {LayersPerBlock[i]} resnets");
            var up = ReverseTransformerLayersPerBlock[i];
            if (up.Count != LayersPerBlock[n - 1 - i] + 1)
                throw Fail("reverse_transformer_layers_per_block", $"up block {i} lists {up.Count} depths for {LayersPerBlock[n - 1 - i] + 1} resnets");
            if (TransformerLayersPerBlock[i].Concat(up).Any(d => d <= 0)) throw Fail("transformer_layers_per_block", "depths must be positive");
            if (AttentionHeads[i] <= 0) throw Fail("attention_head_dim", "must be positive");
            if (CrossAttentionDim[i] <= 0) throw Fail("cross_attention_dim", "must be positive");
        }
        CheckHeads(DownBlockTypes, CrossAttnDownBlock, i => BlockOutChannels[i], i => AttentionHeads[i]);
        CheckHeads(UpBlockTypes, CrossAttnUpBlock, i => BlockOutChannels[n - 1 - i], i => AttentionHeads[n - 1 - i]);
        if (BlockOutChannels[^1] % AttentionHeads[^1] != 0)
            throw Fail("attention_head_dim", $"{BlockOutChannels[^1]} mid-block channels cannot be split into {AttentionHeads[^1]} heads");
        if (DownsamplePadding is not (0 or 1)) throw Fail("downsample_padding", "must be 0 or 1");
        if (ConvInKernel % 2 == 0 || ConvInKernel <= 0) throw Fail("conv_in_kernel", "must be a positive odd number");
        if (ConvOutKernel % 2 == 0 || ConvOutKernel <= 0) throw Fail("conv_out_kernel", "must be a positive odd number");
        if (MidBlockType is not (null or CrossAttnMidBlock or ResnetMidBlock))
            throw Fail("mid_block_type", $"'{MidBlockType}' is not supported (only {CrossAttnMidBlock}, {ResnetMidBlock} or null)");
        if (AdditionEmbedType is not (null or TextTimeEmbedding))
            throw Fail("addition_embed_type", $"'{AdditionEmbedType}' is not supported (only {TextTimeEmbedding} or null)");
        if (HasAddedConditioning)
        {
            if (AdditionTimeEmbedDim is not > 0) throw Fail("addition_time_embed_dim", "must be positive");
            if (ProjectionClassEmbeddingsInputDim is not > 0) throw Fail("projection_class_embeddings_input_dim", "must be positive");
        }
        if (TimeCondProjDim is <= 0) throw Fail("time_cond_proj_dim", "must be positive");
        if (MidBlockScaleFactor == 0) throw Fail("mid_block_scale_factor", "must not be 0");
    }

    private void CheckHeads(IReadOnlyList<string> types, string crossType, Func<int, int> channels, Func<int, int> heads)
    {
        for (var i = 0; i < types.Count; i++)
            if (types[i] == crossType && channels(i) % heads(i) != 0)
                throw Fail("attention_head_dim", $"{channels(i)} channels of {types[i]} {i} cannot be split into {heads(i)} heads");
    }

    private ModelConfigException Fail(string field, string problem) => new(Source, field, problem);

    private static void RejectUnsupported(DiffusersConfigJson j)
    {
        void Expect(string field, string? value, params string?[] allowed)
        {
            if (!allowed.Contains(value)) throw j.Error(field, $"'{value ?? "null"}' is not supported (supported: {string.Join(", ", allowed.Select(a => a ?? "null"))})");
        }
        void MustBeAbsent(string field, string what)
        {
            if (j.Has(field)) throw j.Error(field, $"is set; {what} is not supported");
        }
        void MustBeFalse(string field)
        {
            if (j.Bool(field, false)) throw j.Error(field, "true is not supported");
        }
        Expect("addition_embed_type", j.String("addition_embed_type"), TextTimeEmbedding, null);
        Expect("act_fn", j.String("act_fn", "silu"), "silu");
        Expect("time_embedding_type", j.String("time_embedding_type", "positional"), "positional");
        Expect("mid_block_type", j.String("mid_block_type", CrossAttnMidBlock), CrossAttnMidBlock, ResnetMidBlock);
        Expect("resnet_time_scale_shift", j.String("resnet_time_scale_shift", "default"), "default");
        Expect("attention_type", j.String("attention_type", "default"), "default");
        MustBeAbsent("class_embed_type", "class conditioning");
        MustBeAbsent("num_class_embeds", "class conditioning");
        MustBeAbsent("time_embedding_act_fn", "an extra time-embedding activation");
        MustBeAbsent("timestep_post_act", "a post-activation in the time embedding");
        MustBeAbsent("encoder_hid_dim", "an encoder hidden-state projection");
        MustBeAbsent("encoder_hid_dim_type", "an encoder hidden-state projection");
        MustBeAbsent("cross_attention_norm", "cross-attention normalisation");
        MustBeFalse("dual_cross_attention");
        MustBeFalse("class_embeddings_concat");
        MustBeFalse("resnet_skip_time_act");
        MustBeFalse("mid_block_only_cross_attention");
        if (j.Raw("only_cross_attention") is { } oca && !(oca.ValueKind == JsonValueKind.False
            || oca.ValueKind == JsonValueKind.Array && oca.EnumerateArray().All(e => e.ValueKind == JsonValueKind.False)))
            throw j.Error("only_cross_attention", "true is not supported");
    }

    private static IReadOnlyList<IReadOnlyList<int>> ReadTransformerLayers(DiffusersConfigJson j, string field, IReadOnlyList<int> layers, int n)
    {
        if (j.Raw(field) is { ValueKind: JsonValueKind.Array } arr && arr.EnumerateArray().Any(e => e.ValueKind == JsonValueKind.Array))
            return ReadNested(j, field, layers);
        var flat = j.IntOrList(field, n, 1);
        return flat.Select((d, i) => (IReadOnlyList<int>)Enumerable.Repeat(d, layers[i]).ToArray()).ToArray();
    }

    private static IReadOnlyList<IReadOnlyList<int>> ReadNested(DiffusersConfigJson j, string field, IReadOnlyList<int> resnetsPerBlock)
    {
        var arr = j.Required(field);
        if (arr.ValueKind != JsonValueKind.Array || arr.GetArrayLength() != resnetsPerBlock.Count)
            throw j.Error(field, $"must be a list with one entry per block ({resnetsPerBlock.Count})");
        return arr.EnumerateArray().Select((e, i) => (IReadOnlyList<int>)(e.ValueKind switch
        {
            JsonValueKind.Number => Enumerable.Repeat(j.AsInt(field, e), resnetsPerBlock[i]).ToArray(),
            JsonValueKind.Array when e.GetArrayLength() == resnetsPerBlock[i] => e.EnumerateArray().Select(x => j.AsInt(field, x)).ToArray(),
            _ => throw j.Error(field, $"entry {i} must be an integer or a list of {resnetsPerBlock[i]} integers"),
        })).ToArray();
    }
}
