namespace LcmLora.Text;

/// <summary>
/// A tokenizer folder could not be loaded: a file is missing, unreadable or malformed, or the files disagree
/// (for example a special token that is not in <c>vocab.json</c>). The message names the file and the problem.
/// </summary>
public sealed class ClipTokenizerLoadException : LcmLoraInputException
{
    /// <summary>Creates the exception for <paramref name="filePath"/>.</summary>
    /// <param name="filePath">The file (or folder) at fault.</param>
    /// <param name="problem">What is wrong with it, phrased so that it follows the file name.</param>
    /// <param name="innerException">The underlying I/O or parse error, if any.</param>
    public ClipTokenizerLoadException(string filePath, string problem, Exception? innerException = null)
        : base($"CLIP tokenizer file '{filePath}': {problem}", innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The full path of the file (or folder) at fault.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with <see cref="FilePath"/>, without the file name.</summary>
    public string Problem { get; }
}
