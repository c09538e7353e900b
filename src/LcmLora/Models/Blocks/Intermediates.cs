using static TorchSharp.torch;

namespace LcmLora.Models.Blocks;

/// <summary>
/// Frees activations as soon as the next one exists instead of at the end of the enclosing dispose scope. A VAE
/// decode at 512x512 holds tensors of up to 268 MB; keeping every intermediate of a block until the block returns was
/// measured at +0.7 GB of peak memory.
/// </summary>
internal static class Intermediates
{
    /// <summary>
    /// Returns <paramref name="next"/> after disposing <paramref name="current"/>, unless <paramref name="current"/> is the
    /// caller-owned <paramref name="input"/> or is <paramref name="next"/> itself (an in-place op or an identity).
    /// </summary>
    public static Tensor Advance(Tensor current, Tensor next, Tensor? input)
    {
        if (!ReferenceEquals(current, input) && !ReferenceEquals(current, next)) current.Dispose();
        return next;
    }
}
