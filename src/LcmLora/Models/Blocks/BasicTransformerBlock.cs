using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// diffusers <c>BasicTransformerBlock</c> (layer_norm type): pre-LayerNorm self-attention (<c>norm1</c>, <c>attn1</c>),
/// cross-attention on the text context (<c>norm2</c>, <c>attn2</c>) and GEGLU feed-forward (<c>norm3</c>, <c>ff</c>),
/// each added back to the tokens.
/// </summary>
internal sealed class BasicTransformerBlock : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly LayerNorm norm1;
    private readonly Attention attn1;
    private readonly LayerNorm norm2;
    private readonly Attention attn2;
    private readonly LayerNorm norm3;
    private readonly FeedForward ff;
#pragma warning restore IDE1006

    /// <summary>Creates the block for tokens of width <paramref name="dim"/> = heads * headDim.</summary>
    public BasicTransformerBlock(long dim, long heads, long headDim, long contextDim, Device? device = null, ScalarType? dtype = null)
        : base(nameof(BasicTransformerBlock))
    {
        norm1 = nn.LayerNorm(dim, 1e-5, elementwise_affine: true, device: device, dtype: dtype);
        attn1 = new Attention(dim, null, heads, headDim, qkvBias: false, device: device, dtype: dtype);
        norm2 = nn.LayerNorm(dim, 1e-5, elementwise_affine: true, device: device, dtype: dtype);
        attn2 = new Attention(dim, contextDim, heads, headDim, qkvBias: false, device: device, dtype: dtype);
        norm3 = nn.LayerNorm(dim, 1e-5, elementwise_affine: true, device: device, dtype: dtype);
        ff = new FeedForward(dim, device, dtype);
        RegisterComponents();
    }

    /// <summary>Runs the block on tokens <c>[B, N, dim]</c> with text context <c>[B, M, contextDim]</c>.</summary>
    public override Tensor forward(Tensor tokens, Tensor context)
    {
        using var scope = NewDisposeScope();
        var x = attn1.call(norm1.call(tokens), null) + tokens;
        x = attn2.call(norm2.call(x), context) + x;
        x = ff.call(norm3.call(x)) + x;
        return x.MoveToOuterDisposeScope();
    }
}
