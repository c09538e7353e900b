namespace LcmLora.Benchmarks.Flops;

/// <summary>The kind of a counted operation; each kind has its own machine ceiling.</summary>
public enum OpKind
{
    /// <summary>A convolution (3x3, stride 1 or 2, or 1x1).</summary>
    Conv,

    /// <summary>A dense layer: a matrix product of tokens x in by in x out.</summary>
    Linear,

    /// <summary>The two matrix products of scaled dot-product attention (QKᵀ and attention·V).</summary>
    Attention,
}

/// <summary>One counted operation of a forward pass, with the shape needed to replay it in isolation.</summary>
/// <param name="Where">Module path (diffusers naming) of the operation.</param>
public abstract record FlopOp(string Where)
{
    /// <summary>Multiply-adds x 2.</summary>
    public abstract double Flops { get; }

    /// <summary>The op class.</summary>
    public abstract OpKind Kind { get; }

    /// <summary>A key equal for ops of identical shape (to time each distinct shape once).</summary>
    public abstract string ShapeKey { get; }
}

/// <summary>A 2-D convolution over a <c>[Batch, InChannels, Height, Width]</c> input (square kernel, same padding).</summary>
public sealed record ConvOp(string Where, long Batch, long InChannels, long OutChannels, int Kernel, int Stride, long Height, long Width) : FlopOp(Where)
{
    /// <summary>Output height.</summary>
    public long OutHeight => (Height + 2 * (Kernel / 2) - Kernel) / Stride + 1;

    /// <summary>Output width.</summary>
    public long OutWidth => (Width + 2 * (Kernel / 2) - Kernel) / Stride + 1;

    /// <inheritdoc/>
    public override double Flops => 2.0 * Batch * InChannels * OutChannels * Kernel * Kernel * OutHeight * OutWidth;

    /// <inheritdoc/>
    public override OpKind Kind => OpKind.Conv;

    /// <inheritdoc/>
    public override string ShapeKey => $"conv{Kernel}x{Kernel}/s{Stride} {Batch}x{InChannels}x{Height}x{Width} -> {OutChannels}";
}

/// <summary>A dense layer applied to <paramref name="Tokens"/> rows.</summary>
public sealed record LinearOp(string Where, long Tokens, long In, long Out) : FlopOp(Where)
{
    /// <inheritdoc/>
    public override double Flops => 2.0 * Tokens * In * Out;

    /// <inheritdoc/>
    public override OpKind Kind => OpKind.Linear;

    /// <inheritdoc/>
    public override string ShapeKey => $"linear {Tokens}x{In} -> {Out}";
}

/// <summary>Scaled dot-product attention: 2·Q·K·d for QKᵀ plus 2·Q·K·d for the weighted sum, per batch and head.</summary>
public sealed record AttentionOp(string Where, long Batch, long Heads, long QueryTokens, long KeyTokens, long HeadDim) : FlopOp(Where)
{
    /// <inheritdoc/>
    public override double Flops => 4.0 * Batch * Heads * QueryTokens * KeyTokens * HeadDim;

    /// <inheritdoc/>
    public override OpKind Kind => OpKind.Attention;

    /// <inheritdoc/>
    public override string ShapeKey => $"sdpa {Batch}x{Heads} heads q{QueryTokens} k{KeyTokens} d{HeadDim}";
}
