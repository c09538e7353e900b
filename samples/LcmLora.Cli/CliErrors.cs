namespace LcmLora.Cli;

/// <summary>Which exceptions are the user's input at fault, and how to show them in one line.</summary>
public static class CliErrors
{
    /// <summary>
    /// True for bad-input and environment exceptions (exit code 2). Any <see cref="IOException"/> is the environment's:
    /// a full disk (ENOSPC), a folder where a file was expected (EISDIR), a link loop (ELOOP), a path too long.
    /// </summary>
    public static bool IsBadInput(Exception e) =>
        e is LcmLoraInputException or IOException or ArgumentException or KeyNotFoundException
            or UnauthorizedAccessException or InvalidDataException;

    /// <summary>The message flattened to one line.</summary>
    public static string OneLine(Exception e) => OneLine(e.Message);

    /// <summary>
    /// A message flattened to one line (line breaks and tabs become single spaces); other control characters, which
    /// a file's tensor names or metadata can carry into a message, are shown escaped, never sent to the terminal.
    /// </summary>
    public static string OneLine(string message) =>
        Output.Terminal.EscapeControl(string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
}
