using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Clip;

/// <summary>
/// The body of a CLIP text encoder (transformers' <c>CLIPTextTransformer</c>, stored under <c>text_model.</c>):
/// embeddings, the causal layer stack and <c>final_layer_norm</c>, plus end-of-text pooling.
/// </summary>
internal sealed class ClipTextTransformer : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the transformers parameter path segments
    private readonly ClipTextEmbeddings embeddings;
    private readonly ClipEncoder encoder;
    private readonly LayerNorm final_layer_norm;
#pragma warning restore IDE1006
    private readonly ClipTextConfig _config;

    /// <summary>Creates the body for <paramref name="config"/>.</summary>
    public ClipTextTransformer(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(ClipTextTransformer))
    {
        _config = config;
        embeddings = new ClipTextEmbeddings(config, device, dtype);
        encoder = new ClipEncoder(config, device, dtype);
        final_layer_norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The last hidden state (after <c>final_layer_norm</c>) of token ids <c>[B, S]</c>.</summary>
    public override Tensor forward(Tensor inputIds)
    {
        CheckIds(inputIds);
        using var scope = NewDisposeScope();
        return final_layer_norm.call(encoder.call(embeddings.call(inputIds))).MoveToOuterDisposeScope();
    }

    /// <summary>Applies <c>final_layer_norm</c> to a hidden state (SD 1.x's clip-skip path).</summary>
    internal Tensor FinalLayerNorm(Tensor hidden) => final_layer_norm.call(hidden);

    /// <summary>
    /// Runs the encoder and collects what <see cref="ClipTextModel.Forward"/> describes (without the projection).
    /// </summary>
    internal ClipTextOutput Encode(Tensor inputIds, int? outputLayer, bool skipFinalLayers)
    {
        CheckIds(inputIds);
        var total = _config.NumHiddenLayers;
        int? selected = outputLayer is int o ? ResolveLayer(o) : null;
        var run = skipFinalLayers && selected is int s ? s : total;

        using var scope = NewDisposeScope();
        var all = new List<Tensor>(selected is null ? total + 1 : 0);
        Tensor? pick = null;
        var h = embeddings.call(inputIds);
        for (var i = 0; ; i++)
        {
            // h is hidden state i: the embeddings output, then the output of layer i - 1.
            if (selected is null) all.Add(h);
            else if (i == selected) pick = h;
            if (i == run) break;
            var next = encoder.Layers[i].call(h);
            if (selected is not null && !ReferenceEquals(h, pick)) h.Dispose();
            h = next;
        }

        Tensor? last = null, pooled = null;
        if (run == total)
        {
            last = final_layer_norm.call(h);
            pooled = Pool(last, inputIds);
        }
        if (selected is not null && !ReferenceEquals(h, pick)) h.Dispose();

        foreach (var t in all) t.MoveToOuterDisposeScope();
        pick?.MoveToOuterDisposeScope();
        last?.MoveToOuterDisposeScope();
        pooled?.MoveToOuterDisposeScope();
        return new ClipTextOutput(last, all, pick, pooled, null);
    }

    /// <summary>
    /// The final-normed state at each row's end-of-text position: the first occurrence of the largest id when
    /// <c>eos_token_id</c> is 2 (transformers' legacy rule, SDXL), otherwise the first occurrence of <c>eos_token_id</c>.
    /// </summary>
    private Tensor Pool(Tensor lastHiddenState, Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var positions = _config.UsesLegacyPooling
            ? inputIds.argmax(-1)
            : inputIds.eq(_config.EosTokenId).to(ScalarType.Int32).argmax(-1);
        var (b, d) = (lastHiddenState.shape[0], lastHiddenState.shape[2]);
        var index = positions.to(ScalarType.Int64).view(b, 1, 1).expand(b, 1, d);
        return lastHiddenState.gather(1, index).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>Turns a hidden-state index (negative counts from the end, -1 = last layer) into 0..layers.</summary>
    private int ResolveLayer(int outputLayer)
    {
        var count = _config.NumHiddenLayers + 1;
        var resolved = outputLayer < 0 ? outputLayer + count : outputLayer;
        if (resolved < 0 || resolved >= count)
            throw new ClipTextInputException(
                $"outputLayer {outputLayer} is out of range: this encoder has {count} hidden states (indices {-count}..{count - 1}).");
        return resolved;
    }

    private void CheckIds(Tensor inputIds)
    {
        if (inputIds.dim() != 2)
            throw new ClipTextInputException($"input ids must be [batch, sequence], got shape [{string.Join(", ", inputIds.shape)}].");
        if (inputIds.dtype != ScalarType.Int64 && inputIds.dtype != ScalarType.Int32)
            throw new ClipTextInputException($"input ids must be int64 or int32, got {inputIds.dtype}.");
        var seq = inputIds.shape[1];
        if (seq < 1 || seq > _config.MaxPositionEmbeddings || inputIds.shape[0] < 1)
            throw new ClipTextInputException(
                $"input ids have shape [{string.Join(", ", inputIds.shape)}]; the batch must be non-empty and the sequence 1..{_config.MaxPositionEmbeddings} tokens.");
        if (inputIds.device_type == DeviceType.META) return;
        using var scope = NewDisposeScope();
        var min = inputIds.min().item<long>();
        var max = inputIds.max().item<long>();
        if (min < 0 || max >= _config.VocabSize)
            throw new ClipTextInputException($"token ids must lie in 0..{_config.VocabSize - 1}, got values from {min} to {max}.");
    }
}
