using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Clip;

/// <summary>
/// Causal multi-head self-attention of a CLIP text layer (transformers' <c>CLIPAttention</c>) with separate
/// <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c> and <c>out_proj</c>, computed by scaled dot-product attention with
/// the causal flag (SDXL passes no padding mask).
/// </summary>
internal sealed class ClipAttention : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the transformers parameter path segments
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear out_proj;
#pragma warning restore IDE1006
    private readonly int _heads;

    /// <summary>Creates the attention for <paramref name="config"/>.</summary>
    public ClipAttention(ClipTextConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(ClipAttention))
    {
        var d = config.HiddenSize;
        _heads = config.NumAttentionHeads;
        q_proj = nn.Linear(d, d, hasBias: true, device: device, dtype: dtype);
        k_proj = nn.Linear(d, d, hasBias: true, device: device, dtype: dtype);
        v_proj = nn.Linear(d, d, hasBias: true, device: device, dtype: dtype);
        out_proj = nn.Linear(d, d, hasBias: true, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Attends causally over <c>[B, S, hidden]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (b, s, d) = (x.shape[0], x.shape[1], x.shape[2]);
        Tensor Heads(Linear proj) => proj.call(x).view(b, s, _heads, d / _heads).transpose(1, 2);
        var attended = nn.functional.scaled_dot_product_attention(Heads(q_proj), Heads(k_proj), Heads(v_proj), null, 0.0, true);
        var merged = attended.transpose(1, 2).reshape(b, s, d);
        return out_proj.call(merged).MoveToOuterDisposeScope();
    }
}
