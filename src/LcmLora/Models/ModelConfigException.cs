namespace LcmLora.Models;

/// <summary>
/// A model <c>config.json</c> (UNet, VAE) that cannot be used: unreadable, missing a required field, or holding a
/// value this library does not implement. <see cref="File"/> and <see cref="Field"/> say where.
/// </summary>
public sealed class ModelConfigException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="file">The config file (or a description such as "UNetConfig" for configs built in code).</param>
    /// <param name="field">The offending field (diffusers name), or empty when the whole file is at fault.</param>
    /// <param name="problem">What is wrong.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public ModelConfigException(string file, string field, string problem, Exception? inner = null)
        : base(field.Length == 0 ? $"{file}: {problem}" : $"{file}: field '{field}': {problem}", inner)
    {
        File = file;
        Field = field;
    }

    /// <summary>The config file (or description) at fault.</summary>
    public string File { get; }

    /// <summary>The diffusers field name at fault (empty when the whole file is).</summary>
    public string Field { get; }
}
