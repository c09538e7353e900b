using LcmLora.Models.Clip;
using LcmLora.Text;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// Turns prompts into SDXL conditioning as diffusers' <c>StableDiffusionXLPipeline.encode_prompt</c> does: both
/// tokenizers (77 tokens, truncated with a warning), the penultimate hidden state of each encoder (or
/// <c>hidden_states[-(clipSkip + 2)]</c>) without the final norm, concatenated per token, and the pooled projection
/// of encoder 2. Optionally, long prompts are encoded in 75-token chunks (each wrapped in BOS/EOS and padded)
/// whose embeddings are concatenated along the sequence; the pooled embedding then comes from the first chunk.
/// </summary>
internal sealed class SdxlPromptEncoder : IPromptEncoder
{
    /// <inheritdoc/>
    bool IPromptEncoder.ZerosForMissingNegative => true;

    private readonly ClipTokenizer _tokenizer;
    private readonly ClipTokenizer _tokenizer2;
    private readonly ClipTextModel _encoder;
    private readonly ClipTextModel _encoder2;

    /// <summary>Creates the encoder from the two tokenizer/model pairs.</summary>
    public SdxlPromptEncoder(ClipTokenizer tokenizer, ClipTextModel encoder, ClipTokenizer tokenizer2, ClipTextModel encoder2)
    {
        _tokenizer = tokenizer;
        _encoder = encoder;
        _tokenizer2 = tokenizer2;
        _encoder2 = encoder2;
        if (!encoder2.Config.HasProjection)
            throw new ArgumentException("Text encoder 2 must have a text projection (CLIPTextModelWithProjection).", nameof(encoder2));
    }

    /// <summary>
    /// Encodes one prompt per batch item.
    /// </summary>
    /// <param name="prompts">The prompts.</param>
    /// <param name="clipSkip">Layers to skip from the penultimate one (null or 0: the penultimate layer).</param>
    /// <param name="chunked">Encode prompts longer than 77 tokens in chunks instead of truncating.</param>
    /// <param name="device">Device of the encoders' inputs.</param>
    /// <param name="warnings">Receives a message for each truncated prompt.</param>
    public PromptEmbeddings Encode(IReadOnlyList<string> prompts, int? clipSkip, bool chunked, torch.Device device, ICollection<string>? warnings = null)
    {
        using var scope = torch.NewDisposeScope();
        var layer = -((clipSkip ?? 0) + 2);
        var embeds = new List<torch.Tensor>();
        var pooled = new List<torch.Tensor>();
        foreach (var prompt in prompts)
        {
            var (ids1, ids2) = Tokenize(prompt, chunked, warnings);
            var parts = new List<torch.Tensor>();
            for (var c = 0; c < ids1.Count; c++)
            {
                using var t1 = torch.tensor(ids1[c], device: device).unsqueeze(0);
                using var t2 = torch.tensor(ids2[c], device: device).unsqueeze(0);
                using var o1 = _encoder.Forward(t1, outputLayer: layer, skipFinalLayers: true);
                using var o2 = _encoder2.Forward(t2, outputLayer: layer);
                parts.Add(torch.cat([o1.SelectedHiddenState!, o2.SelectedHiddenState!.to(o1.SelectedHiddenState!.dtype)], dim: -1));
                if (c == 0) pooled.Add(o2.TextEmbeds!.alias());
            }
            embeds.Add(torch.cat(parts, dim: 1));
        }
        var result = new PromptEmbeddings(PadAndStack(embeds), torch.cat(pooled, dim: 0));
        result.Embeds.MoveToOuterDisposeScope();
        result.Pooled!.MoveToOuterDisposeScope();
        return result;
    }

    private (List<long[]> Ids1, List<long[]> Ids2) Tokenize(string prompt, bool chunked, ICollection<string>? warnings)
    {
        if (!chunked)
        {
            var p1 = _tokenizer.EncodePadded(prompt);
            var p2 = _tokenizer2.EncodePadded(prompt);
            if (p1.Truncated || p2.Truncated)
                warnings?.Add($"The prompt is longer than {_tokenizer.ModelMaxLength} tokens and was truncated; dropped: \"{_tokenizer.Decode(p1.DroppedTokenIds)}\". " +
                    "Set ChunkLongPrompts (lcmlora: --chunk-prompts) to encode all of it in 75-token chunks.");
            return ([p1.ToInt64Array()], [p2.ToInt64Array()]);
        }
        var c1 = _tokenizer.EncodeChunked(prompt).Select(c => c.ToInt64Array()).ToList();
        var c2 = _tokenizer2.EncodeChunked(prompt).Select(c => c.ToInt64Array()).ToList();
        // The two tokenizers can differ in length ('!' is a special token in tokenizer 2): pad the shorter list with empty chunks.
        while (c1.Count < c2.Count) c1.Add(_tokenizer.EncodePadded("").ToInt64Array());
        while (c2.Count < c1.Count) c2.Add(_tokenizer2.EncodePadded("").ToInt64Array());
        return (c1, c2);
    }

    private static torch.Tensor PadAndStack(List<torch.Tensor> embeds)
    {
        // With chunking, prompts of one batch can have different chunk counts; padding would change the result.
        var length = embeds.Max(e => e.shape[1]);
        if (embeds.Any(e => e.shape[1] != length))
            throw new LcmLoraInputException("Chunked prompts in one batch must have the same number of 75-token chunks; pad the shorter prompts or generate them separately.");
        return torch.cat(embeds, dim: 0);
    }
}
