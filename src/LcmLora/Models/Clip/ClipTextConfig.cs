using LcmLora.Models;
using System.Text.Json;

namespace LcmLora.Models.Clip;

/// <summary>
/// The shape of a CLIP text encoder, as transformers' <c>CLIPTextConfig</c> describes it. One record covers both
/// SDXL encoders: <c>CLIPTextModel</c> (OpenAI CLIP ViT-L) and <c>CLIPTextModelWithProjection</c> (OpenCLIP ViT-bigG).
/// </summary>
/// <param name="VocabSize">Token vocabulary size (<c>vocab_size</c>).</param>
/// <param name="HiddenSize">Width of the residual stream (<c>hidden_size</c>).</param>
/// <param name="IntermediateSize">Width of the MLP (<c>intermediate_size</c>).</param>
/// <param name="NumHiddenLayers">Number of transformer layers (<c>num_hidden_layers</c>).</param>
/// <param name="NumAttentionHeads">Attention heads per layer (<c>num_attention_heads</c>).</param>
/// <param name="MaxPositionEmbeddings">Longest token sequence (<c>max_position_embeddings</c>).</param>
/// <param name="HiddenAct">MLP activation (<c>hidden_act</c>).</param>
/// <param name="LayerNormEps">LayerNorm epsilon (<c>layer_norm_eps</c>).</param>
/// <param name="ProjectionDim">
/// Output width of <c>text_projection</c> when the model has one (<c>CLIPTextModelWithProjection</c>), otherwise
/// null. A plain <c>CLIPTextModel</c> config may still carry a <c>projection_dim</c>; it is ignored.
/// </param>
/// <param name="EosTokenId">
/// <c>eos_token_id</c>. With the value 2 (both SDXL configs) the pooled output is taken at the first occurrence of
/// the largest token id, as transformers' legacy path does; otherwise at the first occurrence of this id.
/// </param>
internal sealed record ClipTextConfig(
    int VocabSize,
    int HiddenSize,
    int IntermediateSize,
    int NumHiddenLayers,
    int NumAttentionHeads,
    int MaxPositionEmbeddings,
    ClipActivation HiddenAct,
    double LayerNormEps,
    int? ProjectionDim,
    int EosTokenId)
{
    /// <summary>The <c>eos_token_id</c> value that selects transformers' legacy argmax pooling.</summary>
    public const int LegacyEosTokenId = 2;

    /// <summary>SDXL base <c>text_encoder</c>: OpenAI CLIP ViT-L/14, 123,060,480 parameters.</summary>
    public static ClipTextConfig SdxlClipL { get; } = new(
        VocabSize: 49408, HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12, NumAttentionHeads: 12,
        MaxPositionEmbeddings: 77, HiddenAct: ClipActivation.QuickGelu, LayerNormEps: 1e-5, ProjectionDim: null,
        EosTokenId: LegacyEosTokenId);

    /// <summary>SDXL base <c>text_encoder_2</c>: OpenCLIP ViT-bigG/14 with projection, 694,659,840 parameters.</summary>
    public static ClipTextConfig SdxlBigG { get; } = new(
        VocabSize: 49408, HiddenSize: 1280, IntermediateSize: 5120, NumHiddenLayers: 32, NumAttentionHeads: 20,
        MaxPositionEmbeddings: 77, HiddenAct: ClipActivation.Gelu, LayerNormEps: 1e-5, ProjectionDim: 1280,
        EosTokenId: LegacyEosTokenId);

    /// <summary>Whether the model ends in a <c>text_projection</c> (bias-free Linear).</summary>
    public bool HasProjection => ProjectionDim is not null;

    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Whether pooling uses transformers' legacy argmax-of-ids rule (<see cref="EosTokenId"/> == 2).</summary>
    public bool UsesLegacyPooling => EosTokenId == LegacyEosTokenId;

    /// <summary>
    /// Reads the <c>config.json</c> of a transformers text-encoder folder. Whether the model has a projection is
    /// decided by <c>architectures</c> (an entry ending in <c>WithProjection</c>). Fields transformers gives a
    /// default are optional here with the same default; unknown fields are ignored.
    /// </summary>
    /// <exception cref="LcmLoraInputException">The file is missing, is not JSON, lacks a required field or has an invalid value.</exception>
    public static ClipTextConfig FromJson(string configJsonPath) => FromJson(DiffusersConfigJson.Load(configJsonPath));

    /// <summary>Reads a parsed config (a file, or fields merged from shapes, defaults and a user config).</summary>
    internal static ClipTextConfig FromJson(DiffusersConfigJson reader)
    {
        var configJsonPath = reader.File;
        var withProjection = reader.Raw("architectures") is { ValueKind: JsonValueKind.Array } archs
            && archs.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString()!.EndsWith("WithProjection", StringComparison.Ordinal));
        var actName = reader.String("hidden_act", "quick_gelu")!;
        var act = ClipActivationExtensions.TryParse(actName) ?? throw reader.Error("hidden_act", $"is '{actName}'; supported: quick_gelu, gelu");
        var config = new ClipTextConfig(
            VocabSize: reader.Int("vocab_size", 49408),
            HiddenSize: reader.Int("hidden_size"),
            IntermediateSize: reader.Int("intermediate_size"),
            NumHiddenLayers: reader.Int("num_hidden_layers"),
            NumAttentionHeads: reader.Int("num_attention_heads"),
            MaxPositionEmbeddings: reader.Int("max_position_embeddings", 77),
            HiddenAct: act,
            LayerNormEps: reader.Double("layer_norm_eps", 1e-5),
            ProjectionDim: withProjection ? reader.Int("projection_dim", 512) : null,
            EosTokenId: reader.Int("eos_token_id", 49407));
        var problem = config.Problem();
        if (problem != null) throw new LcmLoraInputException($"{configJsonPath}: {problem}");
        return config;
    }

    /// <summary>Throws <see cref="LcmLoraInputException"/> when the values cannot describe a model.</summary>
    public void Validate()
    {
        var problem = Problem();
        if (problem != null) throw new LcmLoraInputException($"Invalid CLIP text config: {problem}");
    }

    private string? Problem()
    {
        (string Name, int Value)[] positive =
        [
            ("vocab_size", VocabSize), ("hidden_size", HiddenSize), ("intermediate_size", IntermediateSize),
            ("num_hidden_layers", NumHiddenLayers), ("num_attention_heads", NumAttentionHeads),
            ("max_position_embeddings", MaxPositionEmbeddings), ("projection_dim", ProjectionDim ?? 1),
        ];
        foreach (var (name, value) in positive)
            if (value <= 0) return $"field '{name}' must be positive, got {value}.";
        if (HiddenSize % NumAttentionHeads != 0)
            return $"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}.";
        if (!(LayerNormEps > 0) || double.IsInfinity(LayerNormEps))
            return $"field 'layer_norm_eps' must be a positive number, got {LayerNormEps}.";
        if (!Enum.IsDefined(HiddenAct)) return $"unknown activation {HiddenAct}.";
        return null;
    }
}
