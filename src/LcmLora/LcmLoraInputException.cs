namespace LcmLora;

/// <summary>
/// Base of every exception LcmLora throws for bad input: a malformed or refused file, a key that does not map,
/// a shape that does not fit, an invalid argument value. Catch it to tell the user their input is wrong (the
/// CLI exits with code 2). Models that were loaded before the error are left untouched.
/// </summary>
public class LcmLoraInputException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LcmLoraInputException(string message, Exception? inner = null) : base(message, inner) { }
}
