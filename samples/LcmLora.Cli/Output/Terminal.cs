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
}
