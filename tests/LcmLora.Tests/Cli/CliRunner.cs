using LcmLora.Cli;

namespace LcmLora.Tests.Cli;

/// <summary>Runs the CLI in-process with captured standard output and error.</summary>
public static class CliRunner
{
    private static readonly object Gate = new();

    /// <summary>Exit code, stdout and stderr of one invocation.</summary>
    public sealed record Result(int ExitCode, string Out, string Err);

    /// <summary>Runs <c>lcmlora</c> with the given arguments.</summary>
    public static Result Run(params string[] args)
    {
        lock (Gate)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            using var outWriter = new StringWriter();
            using var errWriter = new StringWriter();
            Console.SetOut(outWriter);
            Console.SetError(errWriter);
            try
            {
                var code = CliApp.Run(args);
                return new Result(code, outWriter.ToString(), errWriter.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}
