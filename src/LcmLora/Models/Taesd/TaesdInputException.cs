namespace LcmLora.Models.Taesd;

/// <summary>A tensor a tiny autoencoder cannot take, or a call on a half the model was loaded without.</summary>
public sealed class TaesdInputException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public TaesdInputException(string message) : base(message) { }
}
