using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// What SDXL's UNet is conditioned on: per-token embeddings (both encoders' penultimate hidden states concatenated,
/// 768 + 1280 = 2048 wide for SDXL) and the pooled, projected embedding of text encoder 2.
/// </summary>
/// <param name="Embeds"><c>[B, 77 x chunks, 2048]</c>.</param>
/// <param name="Pooled"><c>[B, 1280]</c>.</param>
public sealed record PromptEmbeddings(torch.Tensor Embeds, torch.Tensor Pooled) : IDisposable
{
    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Embeds.Dispose();
        Pooled.Dispose();
    }
}
