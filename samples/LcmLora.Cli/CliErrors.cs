using System.Text.RegularExpressions;

namespace LcmLora.Cli;

/// <summary>Which exceptions are the user's input at fault, and how to show them in one line.</summary>
public static class CliErrors
{
    /// <summary>
    /// True for bad-input and environment exceptions (exit code 2), e.g. a TorchSharp that cannot load here. Any
    /// <see cref="IOException"/> is the environment's: a full disk (ENOSPC), a folder where a file was expected
    /// (EISDIR), a link loop (ELOOP), a path too long.
    /// </summary>
    public static bool IsBadInput(Exception e) =>
        e is LcmLoraInputException or IOException or ArgumentException or KeyNotFoundException
            or UnauthorizedAccessException or InvalidDataException or Runtime.NativeRuntimeException or Hub.HubException { IsInputError: true };

    /// <summary>
    /// The exception to report for <paramref name="e"/>. TorchSharp's type initializer fails when its native library
    /// cannot load (and, in a folder the app cannot write, when its fallback cannot copy files either); when LcmLora's
    /// native-library fix had failed before that, for instance in a read-only app folder, that failure, which names the
    /// cause and the remedy, is the one to show.
    /// </summary>
    public static Exception Explain(Exception e)
    {
        if (e is not TypeInitializationException { TypeName: "TorchSharp.torch" }) return e;
        try
        {
            Runtime.NativeRuntime.EnsureInitialized();
        }
        catch (Runtime.NativeRuntimeException failure)
        {
            return failure;
        }
        catch (Exception)
        {
            // Nothing better to say than TorchSharp's own failure.
        }
        return e;
    }

    /// <summary>The message flattened to one line.</summary>
    public static string OneLine(Exception e) => OneLine(e.Message);

    /// <summary>
    /// A command-line parse error in the user's terms: System.CommandLine names .NET types ("as expected type
    /// 'System.Nullable`1[System.UInt64]'"), which say nothing to a user; they become "expected a whole number from 0 to ...".
    /// </summary>
    public static string ParseError(string message)
    {
        var m = Regex.Match(message, @"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']*)' as expected type '(?<type>[^']*)'\.?$", RegexOptions.Singleline);
        if (!m.Success) return OneLine(message);
        var type = Regex.Match(m.Groups["type"].Value, @"^System\.Nullable`1\[(?<inner>.*)\]$") is { Success: true } n ? n.Groups["inner"].Value : m.Groups["type"].Value;
        var expected = type switch
        {
            "System.Int32" => $"a whole number from {int.MinValue} to {int.MaxValue}",
            "System.UInt64" => $"a whole number from 0 to {ulong.MaxValue}",
            "System.Int64" => "a whole number",
            "System.Double" or "System.Single" => "a number (e.g. 1.5)",
            "System.Boolean" => "true or false",
            _ => "a value of another kind",
        };
        return $"{m.Groups["option"].Value} {m.Groups["value"].Value}: expected {expected}.";
    }

    /// <summary>
    /// A message flattened to one line (line breaks and tabs become single spaces); other control characters, which
    /// a file's tensor names or metadata can carry into a message, are shown escaped, never sent to the terminal.
    /// </summary>
    public static string OneLine(string message) =>
        Output.Terminal.EscapeControl(string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
}
