using static TorchSharp.torch;

namespace LcmLora.Models.Clip;

/// <summary>
/// What a CLIP text encoder returns. Owns its tensors: dispose it (or move the tensors you keep elsewhere first).
/// </summary>
/// <param name="LastHiddenState">
/// <c>[B, S, hidden]</c> after <c>final_layer_norm</c>; null when the run stopped before the last layer.
/// </param>
/// <param name="HiddenStates">
/// Every hidden state, transformers' <c>hidden_states</c>: the embeddings output, then each layer's output (no final
/// norm), <c>NumHiddenLayers + 1</c> tensors. SDXL uses <c>HiddenStates[^2]</c>. Empty when only one layer was asked for.
/// </param>
/// <param name="SelectedHiddenState">The one hidden state asked for with <c>outputLayer</c>; otherwise null.</param>
/// <param name="Pooled">
/// <c>[B, hidden]</c>: the final-normed state at the end-of-text position (transformers' <c>pooler_output</c>); null
/// when the run stopped early.
/// </param>
/// <param name="TextEmbeds"><c>[B, projection]</c> = <c>text_projection(Pooled)</c> for models with a projection; otherwise null.</param>
internal sealed record ClipTextOutput(
    Tensor? LastHiddenState,
    IReadOnlyList<Tensor> HiddenStates,
    Tensor? SelectedHiddenState,
    Tensor? Pooled,
    Tensor? TextEmbeds) : IDisposable
{
    /// <summary>Disposes every tensor of the output (each once).</summary>
    public void Dispose()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var t in HiddenStates.Append(LastHiddenState).Append(SelectedHiddenState).Append(Pooled).Append(TextEmbeds))
            if (t is not null && seen.Add(t)) t.Dispose();
    }
}
