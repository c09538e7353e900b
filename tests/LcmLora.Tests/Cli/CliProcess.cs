using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace LcmLora.Tests.Cli;

/// <summary>
/// Runs the CLI as a child process (<c>dotnet LcmLora.Cli.dll ...</c> from the test output folder), for what only a
/// real process shows: signals, native standard error (libtorch's own messages), the exit code the OS sees.
/// </summary>
public sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _err = new();
    private readonly StringBuilder _out = new();

    private CliProcess(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    /// <summary>Starts <c>lcmlora</c> with the arguments.</summary>
    public static CliProcess Start(params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "LcmLora.Cli.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        return new CliProcess(Process.Start(info)!);
    }

    /// <summary>Standard error so far.</summary>
    public string Err { get { lock (_err) return _err.ToString(); } }

    /// <summary>Standard output so far.</summary>
    public string Out { get { lock (_out) return _out.ToString(); } }

    /// <summary>Waits until standard error contains <paramref name="text"/>; false when the process ended first or time ran out.</summary>
    public bool WaitForErr(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (Err.Contains(text, StringComparison.Ordinal)) return true;
            if (_process.HasExited) return Err.Contains(text, StringComparison.Ordinal);
            Thread.Sleep(20);
        }
        return false;
    }

    /// <summary>Sends SIGINT (what Ctrl+C sends).</summary>
    public void Interrupt()
    {
        if (kill(_process.Id, 2) != 0) throw new InvalidOperationException($"kill(SIGINT) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits for the exit; returns the exit code, or null on time-out.</summary>
    public int? WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return null;
        _process.WaitForExit(); // drains the asynchronous readers
        return _process.ExitCode;
    }

    /// <summary>Kills the process if it still runs.</summary>
    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

#pragma warning disable IDE1006, SYSLIB1054 // the C name; a plain DllImport
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
#pragma warning restore IDE1006, SYSLIB1054
}
