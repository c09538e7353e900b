using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// diffusers <c>Transformer2DModel</c> for continuous inputs: GroupNorm <c>norm</c> (eps 1e-6), <c>proj_in</c>
/// (Linear on tokens when <c>use_linear_projection</c>, else a 1x1 conv before flattening), the
/// <c>transformer_blocks</c>, <c>proj_out</c>, and the input added back.
/// </summary>
internal sealed class Transformer2DModel : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the diffusers parameter path segments
    private readonly GroupNorm norm;
    private readonly nn.Module<Tensor, Tensor> proj_in;
    private readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    private readonly nn.Module<Tensor, Tensor> proj_out;
#pragma warning restore IDE1006
    private readonly bool _linearProjection;

    /// <summary>Creates the transformer over <paramref name="channels"/> = heads * (channels / heads).</summary>
    /// <param name="channels">Input channels, also the token width.</param>
    /// <param name="heads">Attention heads (head width = channels / heads).</param>
    /// <param name="layers">Number of transformer blocks.</param>
    /// <param name="contextDim">Width of the text context (cross_attention_dim).</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="linearProjection">use_linear_projection.</param>
    /// <param name="device">Where to create the parameters.</param>
    /// <param name="dtype">Parameter dtype.</param>
    public Transformer2DModel(long channels, long heads, int layers, long contextDim, long groups, bool linearProjection,
        Device? device = null, ScalarType? dtype = null) : base(nameof(Transformer2DModel))
    {
        if (heads <= 0 || channels % heads != 0)
            throw new ArgumentException($"{channels} channels cannot be split into {heads} attention heads.");
        var headDim = channels / heads;
        norm = nn.GroupNorm(groups, channels, 1e-6, affine: true, device: device, dtype: dtype);
        proj_in = linearProjection
            ? nn.Linear(channels, channels, hasBias: true, device: device, dtype: dtype)
            : nn.Conv2d(channels, channels, 1, stride: 1, padding: 0L, device: device, dtype: dtype);
        transformer_blocks = nn.ModuleList(Enumerable.Range(0, layers)
            .Select(_ => new BasicTransformerBlock(channels, heads, headDim, contextDim, device, dtype)).ToArray());
        proj_out = linearProjection
            ? nn.Linear(channels, channels, hasBias: true, device: device, dtype: dtype)
            : nn.Conv2d(channels, channels, 1, stride: 1, padding: 0L, device: device, dtype: dtype);
        _linearProjection = linearProjection;
        RegisterComponents();
    }

    /// <summary>Runs on <c>[B, C, H, W]</c> with text context <c>[B, M, contextDim]</c>.</summary>
    public override Tensor forward(Tensor input, Tensor context)
    {
        using var scope = NewDisposeScope();
        var (b, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var x = norm.call(input);
        if (!_linearProjection) x = proj_in.call(x);
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, c);
        if (_linearProjection) x = proj_in.call(x);
        foreach (var block in transformer_blocks) x = block.call(x, context);
        if (_linearProjection) x = proj_out.call(x);
        x = x.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous();
        if (!_linearProjection) x = proj_out.call(x);
        return (x + input).MoveToOuterDisposeScope();
    }
}
