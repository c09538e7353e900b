namespace LcmLora.Schedulers;

/// <summary>
/// A scheduler configuration that cannot be used: a malformed <c>scheduler_config.json</c>, a field of the wrong JSON
/// type, a value diffusers does not know, an option this port does not implement, or an unknown scheduler name.
/// The message names the file (when there is one) and the field.
/// </summary>
public sealed class SchedulerConfigException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public SchedulerConfigException(string message, Exception? inner = null) : base(message, inner) { }
}
