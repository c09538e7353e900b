namespace LcmLora.Cli;

/// <summary>Which exceptions are the user's input at fault, and how to show them in one line.</summary>
public static class CliErrors
{
    /// <summary>True for bad-input exceptions (exit code 2).</summary>
    public static bool IsBadInput(Exception e) =>
        e is LcmLoraInputException or FileNotFoundException or DirectoryNotFoundException or ArgumentException or KeyNotFoundException
            or UnauthorizedAccessException or InvalidDataException or Hub.HubException { IsInputError: true };

    /// <summary>The message flattened to one line.</summary>
    public static string OneLine(Exception e) => OneLine(e.Message);

    /// <summary>A message flattened to one line (line breaks and tabs become single spaces).</summary>
    public static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
