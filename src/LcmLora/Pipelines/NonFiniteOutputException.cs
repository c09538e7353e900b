namespace LcmLora.Pipelines;

/// <summary>The decoded image holds NaN or infinite values (fp16 overflow, a broken LoRA or VAE): an error, not a black image.</summary>
public sealed class NonFiniteOutputException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteOutputException(string message) : base(message) { }
}
