namespace LcmLora.IO;

/// <summary>
/// A safetensors file is malformed, truncated or lies in its header. The message names the file, the tensor
/// (when one is at fault) and what was expected.
/// </summary>
public sealed class SafeTensorsFormatException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public SafeTensorsFormatException(string filePath, string? tensorName, string problem, Exception? inner = null)
        : base(Format(filePath, tensorName, problem), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>The file at fault.</summary>
    public string FilePath { get; }

    /// <summary>The tensor at fault, or null when the problem is the file or header as a whole.</summary>
    public string? TensorName { get; }

    /// <summary>What was wrong, without the file and tensor names.</summary>
    public string Problem { get; }

    private static string Format(string file, string? tensor, string problem) =>
        tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}";
}

/// <summary>
/// A checkpoint in a format LcmLora refuses to read: pickle-based <c>.ckpt</c>, <c>.pt</c>, <c>.pth</c> and
/// <c>.bin</c> files can run arbitrary code when loaded, so they are never unpickled.
/// </summary>
public sealed class UnsupportedCheckpointFormatException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public UnsupportedCheckpointFormatException(string filePath, string problem) : base($"{filePath}: {problem}") => FilePath = filePath;

    /// <summary>The refused file.</summary>
    public string FilePath { get; }
}

/// <summary>
/// A safetensors file changed on disk (was rewritten, truncated or appended to) after LcmLora opened it, so its
/// weights cannot be read again (e.g. to undo a LoRA fusion). The message names the file and what changed.
/// </summary>
public sealed class SafeTensorsFileChangedException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public SafeTensorsFileChangedException(string filePath, string problem) : base($"{filePath}: {problem}") => FilePath = filePath;

    /// <summary>The file that changed.</summary>
    public string FilePath { get; }
}
