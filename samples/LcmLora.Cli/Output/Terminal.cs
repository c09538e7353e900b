using Spectre.Console;

namespace LcmLora.Cli.Output;

/// <summary>
/// Spectre.Console consoles bound to the current <see cref="Console.Out"/> and <see cref="Console.Error"/>. The static
/// <c>AnsiConsole</c> captures the writer it first sees; the CLI makes its consoles per use so output goes wherever
/// standard output points now (a pipe, a file, a test's capture).
/// </summary>
public static class Terminal
{
    /// <summary>A console writing to standard output.</summary>
    public static IAnsiConsole Out => Create(Console.Out, Console.IsOutputRedirected);

    /// <summary>A console writing to standard error (progress bars).</summary>
    public static IAnsiConsole Error => Create(Console.Error, Console.IsErrorRedirected);

    /// <summary>Output that is not a terminal (a pipe, a file, a test's capture) is not wrapped: Spectre.Console would
    /// otherwise break lines at 80 columns, in mid-phrase, where a reader or a grep expects one line per item.</summary>
    private const int UnwrappedWidth = 100_000;

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        var terminal = !redirected && Environment.UserInteractive;
        if (!terminal) console.Profile.Width = UnwrappedWidth;
        return console;
    }


    /// <summary>
    /// Text from a file (tensor names, metadata, paths) made safe to print: control characters (escape sequences,
    /// carriage returns, bidirectional overrides) are shown as <c>\xNN</c> / <c>\uNNNN</c>, and Spectre markup is escaped.
    /// </summary>
    public static string Escape(string text) => Markup.Escape(EscapeControl(text));

    /// <summary>Control and bidi-format characters as <c>\xNN</c> / <c>\uNNNN</c>; other text unchanged.</summary>
    public static string EscapeControl(string text)
    {
        if (!text.Any(NeedsEscape)) return text;
        var b = new System.Text.StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (!NeedsEscape(c)) b.Append(c);
            else if (c <= 0xFF) b.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            else b.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
        }
        return b.ToString();
    }

    private static bool NeedsEscape(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';
}
