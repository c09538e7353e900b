using System.Diagnostics;
using System.Text;

namespace LcmLora.Tests.Packaging;

/// <summary>Runs the <c>dotnet</c> CLI (or an app through it) as a child process with a timeout, capturing its output.</summary>
public static class DotnetCommand
{
    /// <summary>Exit code and combined output of one run; <see cref="Describe"/> is meant for assertion messages.</summary>
    public sealed record Result(string CommandLine, int ExitCode, string Output, TimeSpan Elapsed, bool TimedOut)
    {
        /// <summary>True when the command finished in time with exit code 0.</summary>
        public bool Succeeded => !TimedOut && ExitCode == 0;

        /// <summary>The command, how it ended and its output (the last 12,000 characters).</summary>
        public string Describe()
        {
            var tail = Output.Length > 12_000 ? "..." + Output[^12_000..] : Output;
            var end = TimedOut ? "TIMED OUT (killed)" : $"exit code {ExitCode}";
            return $"`{CommandLine}` -> {end} after {Elapsed.TotalSeconds:F0} s\n{tail}";
        }
    }

    /// <summary>The dotnet host running these tests when the SDK tells us (DOTNET_HOST_PATH), else <c>dotnet</c> on PATH.</summary>
    public static string DotnetHost
    {
        get
        {
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
        }
    }

    /// <summary>Runs <c>dotnet args...</c> in <paramref name="workingDirectory"/>; kills the process tree after <paramref name="timeout"/>.</summary>
    public static Result Run(string workingDirectory, TimeSpan timeout, params string[] args) =>
        RunProgram(DotnetHost, workingDirectory, timeout, args);

    /// <summary>Runs <paramref name="program"/> (an executable path, or <c>dotnet</c>) the same way.</summary>
    public static Result RunProgram(string program, string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The test host runs under MSBuild/VSTest variables that must not steer a nested build; keep the child quiet.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) ||
                                                          k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";

        var output = new StringBuilder();
        var outDone = new TaskCompletionSource();
        var errDone = new TaskCompletionSource();
        var commandLine = (program == DotnetHost ? "dotnet" : program) + " " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is null) outDone.TrySetResult(); else lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is null) errDone.TrySetResult(); else lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var exited = process.WaitForExit(timeout);
        if (!exited)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        // A build server started by the child may keep the pipes open; do not wait for them beyond a short grace period.
        Task.WaitAll([outDone.Task, errDone.Task], TimeSpan.FromSeconds(5));
        watch.Stop();
        string text;
        lock (output) text = output.ToString();
        return new Result(commandLine, exited ? process.ExitCode : -1, text, watch.Elapsed, !exited);
    }
}
