namespace LcmLora.Checkpoints;

/// <summary>How a stored tensor is turned into one of our parameters.</summary>
internal enum TensorTransform
{
    /// <summary>Used as stored.</summary>
    None,
    /// <summary>Stored transposed (open_clip <c>text_projection</c> is used as <c>x @ P</c>; our Linear needs <c>P.T</c>).</summary>
    Transpose,
    /// <summary>Stored as a 1x1 convolution <c>[out, in, 1, 1]</c>; our Linear needs <c>[out, in]</c> (SGM VAE attention).</summary>
    SqueezeConv1x1,
}

/// <summary>
/// Where one of our parameters lives in a checkpoint: the stored key, an optional row slice (open_clip's fused
/// <c>in_proj</c> holds q, k and v stacked by rows: part 0, 1, 2 of 3) and a transform.
/// </summary>
/// <param name="Key">The key in the checkpoint.</param>
/// <param name="Transform">How to reshape it.</param>
/// <param name="Part">Which row block to take (0-based).</param>
/// <param name="Parts">How many equal row blocks the stored tensor holds.</param>
internal sealed record TensorRef(string Key, TensorTransform Transform = TensorTransform.None, int Part = 0, int Parts = 1)
{
    /// <summary>Human-readable form, e.g. <c>attn.in_proj_weight[rows 1/3]</c>.</summary>
    public override string ToString() =>
        Key + (Parts > 1 ? $"[rows {Part + 1}/{Parts}]" : "") + (Transform == TensorTransform.None ? "" : $" ({Transform})");
}
