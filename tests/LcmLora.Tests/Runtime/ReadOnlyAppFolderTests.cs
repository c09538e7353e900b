using System.Diagnostics;
using LcmLora.Runtime;
using LcmLora.Tests.Packaging;
using Xunit;

namespace LcmLora.Tests.Runtime;

/// <summary>
/// An app installed where it cannot write (a read-only or root-owned folder) on a host whose libstdc++ predates GCC
/// 13.2: LcmLora cannot patch its copy of TorchSharp's native library there. That must not kill the process before
/// <c>Main</c> (it did: even <c>lcmlora --help</c> exited 134); commands that need no TorchSharp run, and the first use
/// of TorchSharp reports the problem and the remedy (exit 2). The folder is made immutable with <c>chattr +i</c>, which
/// stops root too; the CLI's managed files are copied, its native libraries linked, and TorchSharp's native library is
/// the unpatched one from the NuGet package.
/// </summary>
[Trait("Category", "cli")]
public sealed class ReadOnlyAppFolderTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("lcmlora-readonly-").FullName;
    private string App => Path.Combine(_work, "app");
    private bool _immutable;

    [SkippableFact]
    public void HelpRunsAndTheFirstTorchUseSaysTheFolderMustBeWritable()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the native-library patch is Linux-only");
        Skip.If(NativeRuntime.HostHasRequiredLibStdCxx(), "this host's libstdc++ has GLIBCXX_3.4.32: nothing is patched");
        var unpatched = PackagedTorchSharpNative();
        Skip.If(unpatched is null, "TorchSharp's package is not in the NuGet packages folder");

        Directory.CreateDirectory(App);
        foreach (var file in Directory.GetFiles(AppContext.BaseDirectory))
        {
            var name = Path.GetFileName(file);
            var target = Path.Combine(App, name);
            if (name == "libLibTorchSharp.so") File.Copy(unpatched!, target);
            else if (name.Contains(".so", StringComparison.Ordinal)) File.CreateSymbolicLink(target, file);
            else File.Copy(file, target);
        }
        _immutable = Chattr("+i", App);
        Skip.IfNot(_immutable, "chattr +i is not available here");
        Assert.ThrowsAny<UnauthorizedAccessException>(() => File.WriteAllText(Path.Combine(App, "probe"), "x"));

        var help = DotnetCommand.Run(_work, TimeSpan.FromMinutes(2), Path.Combine(App, "LcmLora.Cli.dll"), "--help");
        Assert.True(help.Succeeded, "lcmlora --help failed in a read-only folder:\n" + help.Describe());
        Assert.Contains("generate", help.Output);

        var generate = DotnetCommand.Run(_work, TimeSpan.FromMinutes(2), Path.Combine(App, "LcmLora.Cli.dll"),
            "generate", "--prompt", "x", "--width", "32", "--height", "32", "--dtype", "fp32", "--out", Path.Combine(_work, "x.png"));
        Assert.True(generate.ExitCode == 2, "expected exit 2 (environment problem) from generate:\n" + generate.Describe());
        Assert.Contains("could not be patched", generate.Output);
        Assert.Contains("writable", generate.Output);
        Assert.DoesNotContain("   at ", generate.Output);
        Assert.False(File.Exists(Path.Combine(_work, "x.png")));
    }

    /// <summary>TorchSharp's native library as its NuGet package ships it (never patched: the patch replaces copies).</summary>
    private static string? PackagedTorchSharpNative()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages))
            packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var version = typeof(TorchSharp.torch).Assembly.GetName().Version!;
        var path = Path.Combine(packages, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(path) ? path : null;
    }

    private static bool Chattr(string flag, string path)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>Makes the folder writable again and deletes it.</summary>
    public void Dispose()
    {
        if (_immutable) Chattr("-i", App);
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
