using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// diffusers <c>Attention</c> as run by <c>AttnProcessor2_0</c>: <c>to_q</c>, <c>to_k</c>, <c>to_v</c> projections,
/// multi-head scaled dot-product attention (default 1/sqrt(head_dim) scale), then <c>to_out.0</c>. Keys and values
/// come from the context when one is given (cross-attention), else from the input (self-attention).
/// Optionally (VAE mid-block) the input is <c>[B, C, H, W]</c>: it is flattened to tokens, normalised by
/// <c>group_norm</c>, attended, reshaped back and added to the input.
/// </summary>
internal sealed class Attention : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly GroupNorm? group_norm;
    private readonly Linear to_q;
    private readonly Linear to_k;
    private readonly Linear to_v;
    private readonly ModuleList<Linear> to_out;
#pragma warning restore IDE1006
    private readonly long _heads;

    /// <summary>Creates the attention.</summary>
    /// <param name="queryDim">Width of the input tokens (and of the output).</param>
    /// <param name="contextDim">Width of the context tokens for cross-attention; null for self-attention.</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="headDim">Width of each head (inner width = heads * headDim).</param>
    /// <param name="qkvBias">Whether <c>to_q</c>/<c>to_k</c>/<c>to_v</c> have biases (UNet: no; VAE: yes).</param>
    /// <param name="spatialGroupNorm">For the VAE form: GroupNorm (groups, eps) applied to the flattened spatial input,
    /// and a residual connection; null for the token form.</param>
    /// <param name="device">Where to create the parameters.</param>
    /// <param name="dtype">Parameter dtype.</param>
    public Attention(long queryDim, long? contextDim, long heads, long headDim, bool qkvBias,
        (long Groups, double Eps)? spatialGroupNorm = null, Device? device = null, ScalarType? dtype = null) : base(nameof(Attention))
    {
        var inner = heads * headDim;
        if (spatialGroupNorm is var (groups, eps))
            group_norm = nn.GroupNorm(groups, queryDim, eps, affine: true, device: device, dtype: dtype);
        to_q = nn.Linear(queryDim, inner, hasBias: qkvBias, device: device, dtype: dtype);
        to_k = nn.Linear(contextDim ?? queryDim, inner, hasBias: qkvBias, device: device, dtype: dtype);
        to_v = nn.Linear(contextDim ?? queryDim, inner, hasBias: qkvBias, device: device, dtype: dtype);
        to_out = nn.ModuleList(nn.Linear(inner, queryDim, hasBias: true, device: device, dtype: dtype));
        _heads = heads;
        RegisterComponents();
    }

    /// <summary>
    /// Token form: <paramref name="input"/> <c>[B, N, queryDim]</c>, <paramref name="context"/> <c>[B, M, contextDim]</c>
    /// or null. Spatial form (built with a group norm): <paramref name="input"/> <c>[B, C, H, W]</c>, context null.
    /// </summary>
    public override Tensor forward(Tensor input, Tensor? context)
    {
        using var scope = NewDisposeScope();
        if (group_norm is null) return Attend(input, context ?? input).MoveToOuterDisposeScope();

        var (b, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var normed = group_norm.call(input.view(b, c, h * w)).transpose(1, 2);
        var attended = Attend(normed, normed);
        var spatial = attended.transpose(1, 2).reshape(b, c, h, w);
        return (spatial + input).MoveToOuterDisposeScope();
    }

    private Tensor Attend(Tensor tokens, Tensor context)
    {
        var b = tokens.shape[0];
        Tensor Heads(Tensor t) => t.view(b, -1, _heads, t.shape[2] / _heads).transpose(1, 2);
        var q = Heads(to_q.call(tokens));
        var k = Heads(to_k.call(context));
        var v = Heads(to_v.call(context));
        var attended = nn.functional.scaled_dot_product_attention(q, k, v);
        var merged = attended.transpose(1, 2).reshape(b, -1, attended.shape[1] * attended.shape[3]);
        return to_out[0].call(merged);
    }
}
