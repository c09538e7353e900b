using System.CommandLine;
using System.Runtime.InteropServices;
using LcmLora.Cli.Commands;

namespace LcmLora.Cli;

/// <summary>Builds the <c>lcmlora</c> command tree and maps failures to exit codes and one-line messages.</summary>
public static class CliApp
{
    /// <summary>Runs the CLI; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var root = new RootCommand("lcmlora: Stable Diffusion XL in a few steps with LCM-LoRA, on TorchSharp.");
        root.Add(InspectCommand.Create());
        root.Add(TokenizeCommand.Create());
        root.Add(GenerateCommand.Create());
        root.Add(FuseCommand.Create());
        root.Add(DownloadCommand.Create());
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine($"lcmlora: error: {CliErrors.ParseError(e.Message)}");
            return ExitCodes.BadInput;
        }
        // Ctrl+C (SIGINT) and SIGTERM only request cancellation: the command checks the token between operations
        // (tensor reads, UNet blocks, steps, writes) and unwinds, and Run waits for it however long the current
        // operation takes. System.CommandLine's own handling (ProcessTerminationTimeout) returned from Main after
        // two seconds while a worker thread was still inside libtorch, and the runtime's shutdown then crashed it.
        // A second Ctrl+C terminates at once, as a user pressing it twice expects.
        using var cancel = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => RequestCancel(c, cancel));
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => RequestCancel(c, cancel));
        try
        {
            var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
            return parse.InvokeAsync(config, cancel.Token).GetAwaiter().GetResult();
        }
        catch (Exception raw) when (CliErrors.Explain(raw) is var e && CliErrors.IsBadInput(e))
        {
            Console.Error.WriteLine($"lcmlora: error: {CliErrors.OneLine(e)}");
            return ExitCodes.BadInput;
        }
        catch (LcmLora.Hub.HubException e)
        {
            Console.Error.WriteLine($"lcmlora: error: {CliErrors.OneLine(e)}");
            return ExitCodes.DownloadFailed;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("lcmlora: cancelled.");
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("LCMLORA_DEBUG") != "1")
        {
            Console.Error.WriteLine($"lcmlora: internal error ({e.GetType().Name}): {CliErrors.OneLine(e)} (set LCMLORA_DEBUG=1 for a stack trace)");
            return ExitCodes.InternalError;
        }
    }

    private static void RequestCancel(PosixSignalContext context, CancellationTokenSource cancel)
    {
        if (cancel.IsCancellationRequested) return;
        context.Cancel = true;
        cancel.Cancel();
    }
}
