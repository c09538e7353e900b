using LcmLora.Models.Clip;
using LcmLora.Text;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// SD 1.x text conditioning, as diffusers' <c>StableDiffusionPipeline.encode_prompt</c>: one CLIP-L encoder, 77 tokens
/// (truncated with a warning, or 75-token chunks), its <c>last_hidden_state</c> (after the final norm); with clip skip
/// <c>hidden_states[-(clipSkip + 1)]</c> passed through the final norm. No pooled embedding; a missing negative prompt
/// is encoded as "".
/// </summary>
internal sealed class ClipPromptEncoder(ClipTokenizer tokenizer, ClipTextModel encoder) : IPromptEncoder
{
    public bool ZerosForMissingNegative => false;

    public PromptEmbeddings Encode(IReadOnlyList<string> prompts, int? clipSkip, bool chunked, torch.Device device, ICollection<string>? warnings = null)
    {
        using var scope = torch.NewDisposeScope();
        var embeds = new List<torch.Tensor>();
        foreach (var prompt in prompts)
        {
            var parts = new List<torch.Tensor>();
            foreach (var ids in Tokenize(prompt, chunked, warnings))
            {
                using var input = torch.tensor(ids, device: device).unsqueeze(0);
                if (clipSkip is null or 0)
                {
                    using var output = encoder.Forward(input);
                    parts.Add(output.LastHiddenState!.alias());
                }
                else
                {
                    using var output = encoder.Forward(input, outputLayer: -(clipSkip.Value + 1), skipFinalLayers: true);
                    parts.Add(encoder.FinalLayerNorm(output.SelectedHiddenState!));
                }
            }
            embeds.Add(torch.cat(parts, dim: 1));
        }
        if (embeds.Any(e => e.shape[1] != embeds[0].shape[1]))
            throw new LcmLoraInputException("Chunked prompts in one batch must have the same number of 75-token chunks; pad the shorter prompts or generate them separately.");
        var result = new PromptEmbeddings(torch.cat(embeds, dim: 0), null);
        result.Embeds.MoveToOuterDisposeScope();
        return result;
    }

    private List<long[]> Tokenize(string prompt, bool chunked, ICollection<string>? warnings)
    {
        if (chunked) return tokenizer.EncodeChunked(prompt).Select(c => c.ToInt64Array()).ToList();
        var padded = tokenizer.EncodePadded(prompt);
        if (padded.Truncated)
            warnings?.Add($"The prompt is longer than {tokenizer.ModelMaxLength} tokens and was truncated; dropped: \"{tokenizer.Decode(padded.DroppedTokenIds)}\". " +
                "Use chunked prompt encoding to keep all of it.");
        return [padded.ToInt64Array()];
    }
}
