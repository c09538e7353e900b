namespace LcmLora.Cli;

/// <summary>Which exceptions are the user's input at fault, and how to show them in one line.</summary>
public static class CliErrors
{
    /// <summary>True for bad-input exceptions (exit code 2).</summary>
    public static bool IsBadInput(Exception e) =>
        e is LcmLoraInputException or FileNotFoundException or DirectoryNotFoundException or ArgumentException or KeyNotFoundException
            or UnauthorizedAccessException or InvalidDataException;

    /// <summary>The message flattened to one line.</summary>
    public static string OneLine(Exception e) => e.Message.ReplaceLineEndings(" ");
}
