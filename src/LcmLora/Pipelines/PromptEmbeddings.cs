using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// What the UNet is conditioned on: per-token embeddings (SDXL: both encoders' penultimate hidden states concatenated,
/// 768 + 1280 = 2048 wide; SD 1.x: CLIP-L's last hidden state, 768 wide) and, for SDXL, the pooled, projected
/// embedding of text encoder 2.
/// </summary>
/// <param name="Embeds"><c>[B, 77 x chunks, width]</c>.</param>
/// <param name="Pooled"><c>[B, 1280]</c> for SDXL; null for SD 1.x.</param>
internal sealed record PromptEmbeddings(torch.Tensor Embeds, torch.Tensor? Pooled) : IDisposable
{
    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Embeds.Dispose();
        Pooled?.Dispose();
    }
}
