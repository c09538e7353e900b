using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Models.Clip;

/// <summary>
/// Token plus learned position embeddings (transformers' <c>CLIPTextEmbeddings</c>). Positions are 0..S-1, taken
/// as the first S rows of <c>position_embedding</c>; no <c>position_ids</c> buffer is registered.
/// </summary>
internal sealed class ClipTextEmbeddings : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the transformers parameter path segments
    private readonly EmbeddingTable token_embedding;
    private readonly EmbeddingTable position_embedding;
#pragma warning restore IDE1006

    /// <summary>Creates the embeddings for <paramref name="config"/>.</summary>
    public ClipTextEmbeddings(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(ClipTextEmbeddings))
    {
        token_embedding = new EmbeddingTable(config.VocabSize, config.HiddenSize, device, dtype);
        position_embedding = new EmbeddingTable(config.MaxPositionEmbeddings, config.HiddenSize, device, dtype);
        RegisterComponents();
    }

    /// <summary>Embeds token ids <c>[B, S]</c> (int64) into <c>[B, S, hidden]</c>.</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var seq = inputIds.shape[^1];
        var positions = position_embedding.weight.narrow(0, 0, seq);
        return (token_embedding.call(inputIds) + positions).MoveToOuterDisposeScope();
    }
}
