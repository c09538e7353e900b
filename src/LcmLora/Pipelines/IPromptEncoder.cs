using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>A family's text-conditioning recipe: prompts in, token embeddings (and a pooled embedding where the family uses one) out.</summary>
internal interface IPromptEncoder
{
    /// <summary>Encodes one prompt per batch item.</summary>
    PromptEmbeddings Encode(IReadOnlyList<string> prompts, int? clipSkip, bool chunked, torch.Device device, ICollection<string>? warnings = null);

    /// <summary>Whether a missing negative prompt means zero conditioning (SDXL's force_zeros_for_empty_prompt) rather than the encoded "".</summary>
    bool ZerosForMissingNegative { get; }
}
