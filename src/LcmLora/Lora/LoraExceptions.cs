namespace LcmLora.Lora;

/// <summary>A file is not a usable LoRA: no LoRA keys, malformed metadata, an unreadable or non-finite factor.</summary>
public sealed class LoraFormatException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public LoraFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// A LoRA does not match the model: keys that address no module, shapes that do not fit, or nothing matched at all.
/// Thrown in strict mode for any such key, and in every mode when no module matches.
/// </summary>
public sealed class LoraMismatchException : LcmLoraInputException
{
    /// <summary>Creates the exception from a match result.</summary>
    public LoraMismatchException(string message, LoraMatchResult result) : base(message) => Result = result;

    /// <summary>What matched and what did not.</summary>
    public LoraMatchResult Result { get; }
}

/// <summary>
/// Fusing would write NaN or infinity into a weight (a broken adapter or an extreme adapter weight). The model is
/// left exactly as it was before the call.
/// </summary>
public sealed class LoraNonFiniteException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public LoraNonFiniteException(string message) : base(message) { }
}
