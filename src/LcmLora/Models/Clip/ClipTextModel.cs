using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Clip;

/// <summary>
/// A CLIP text encoder, config-driven: transformers' <c>CLIPTextModel</c> (SDXL <c>text_encoder</c>, CLIP ViT-L) or,
/// when the config has a projection, <c>CLIPTextModelWithProjection</c> (SDXL <c>text_encoder_2</c>, OpenCLIP
/// ViT-bigG). Parameter names equal the keys of the transformers <c>model.safetensors</c>
/// (<c>text_model.*</c> and <c>text_projection.weight</c>), so a diffusers folder loads without a table.
/// </summary>
/// <remarks>Inference only: call inside <c>torch.inference_mode()</c> or <c>torch.no_grad()</c>.</remarks>
internal sealed class ClipTextModel : nn.Module<Tensor, ClipTextOutput>
{
#pragma warning disable IDE1006 // field names are the transformers parameter path segments
    private readonly ClipTextTransformer text_model;
    private readonly Linear? text_projection;
#pragma warning restore IDE1006

    /// <summary>Creates the encoder (random weights; load real ones with <c>WeightLoader</c>).</summary>
    /// <param name="config">Shape of the model.</param>
    /// <param name="device">Where parameters live; <c>torch.device("meta")</c> builds the structure without memory.</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    public ClipTextModel(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(ClipTextModel))
    {
        config.Validate();
        Config = config;
        text_model = new ClipTextTransformer(config, device, dtype);
        if (config.ProjectionDim is int projection)
            text_projection = nn.Linear(config.HiddenSize, projection, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The config the model was built from.</summary>
    public ClipTextConfig Config { get; }

    /// <summary>The complete forward: every hidden state, last hidden state, pooled and (with a projection) text embeds.</summary>
    public override ClipTextOutput forward(Tensor inputIds) => Forward(inputIds);

    /// <summary>Applies the encoder's <c>final_layer_norm</c> to a hidden state (SD 1.x normalizes a clip-skipped state).</summary>
    internal Tensor FinalLayerNorm(Tensor hidden) => text_model.FinalLayerNorm(hidden);

    /// <summary>Encodes token ids.</summary>
    /// <param name="inputIds"><c>[B, S]</c> int64 (or int32) token ids, S at most <c>MaxPositionEmbeddings</c>.</param>
    /// <param name="outputLayer">
    /// Null keeps every hidden state in <see cref="ClipTextOutput.HiddenStates"/>. An index into that list instead
    /// (0 = embeddings output, i = output of layer i, negative counts from the end: -1 = last layer, -2 = the
    /// penultimate one SDXL uses) keeps only that state, in <see cref="ClipTextOutput.SelectedHiddenState"/>, and
    /// frees the others as soon as they are used.
    /// </param>
    /// <param name="skipFinalLayers">
    /// With <paramref name="outputLayer"/>: stop once that state is computed and skip the remaining layers; then
    /// <see cref="ClipTextOutput.LastHiddenState"/>, <see cref="ClipTextOutput.Pooled"/> and
    /// <see cref="ClipTextOutput.TextEmbeds"/> are null unless no layer was left. Ignored without an output layer.
    /// </param>
    /// <exception cref="ClipTextInputException">Ids of the wrong shape, dtype or range, or an output layer out of range.</exception>
    public ClipTextOutput Forward(Tensor inputIds, int? outputLayer = null, bool skipFinalLayers = false)
    {
        var output = text_model.Encode(inputIds, outputLayer, skipFinalLayers);
        if (text_projection is null || output.Pooled is null) return output;
        return output with { TextEmbeds = text_projection.call(output.Pooled) };
    }
}
