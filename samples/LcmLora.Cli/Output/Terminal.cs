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
    public static IAnsiConsole Out => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });

    /// <summary>A console writing to standard error (progress bars).</summary>
    public static IAnsiConsole Error => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
}
