namespace LcmLora.Models.Clip;

/// <summary>Token ids or a layer index that a CLIP text encoder cannot take.</summary>
internal sealed class ClipTextInputException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public ClipTextInputException(string message) : base(message) { }
}
