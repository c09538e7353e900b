using System.IO.Compression;
using System.Runtime.InteropServices;
using Xunit;

namespace LcmLora.Tests.Packaging;

/// <summary>
/// `dotnet pack samples/LcmLora.Cli` makes RID-specific .NET tool packages (ToolPackageRuntimeIdentifiers): a small
/// pointer package plus one package per platform carrying only that platform's libtorch, where the single
/// platform-agnostic package carried linux-x64, win-x64 and osx-arm64 (428 MB packed, 2.3 GB installed). This packs
/// the tool for this machine's platform, checks what each package holds, installs it with `dotnet tool install` from
/// the local feed and runs the installed `lcmlora` (which loads TorchSharp from the tool's own folder).
/// </summary>
[Collection(PackagingCollection.Name)]
[Trait("Category", "packaging")]
public sealed class ToolPackageTests : IDisposable
{
    private static readonly string[] OtherPlatformsNatives = ["torch_cpu.dll", "libtorch_cpu.dylib", "LibTorchSharp.dll", "libLibTorchSharp.dylib"];

    private readonly string _version = $"0.1.0-tooltest.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
    private readonly string _work = Path.Combine(Path.GetTempPath(), $"lcmlora-tool-{Guid.NewGuid():N}");

    [SkippableFact]
    public void ThePlatformPackageCarriesOnlyItsOwnLibtorchAndTheInstalledToolRuns()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64,
            "the tool package test packs for linux-x64 (the platform this suite's CI runs on)");
        const string rid = "linux-x64";
        var feed = Path.Combine(_work, "feed");
        var pack = DotnetCommand.Run(Fixtures.RepoRoot, PackedLcmLora.BuildTimeout,
            "pack", "samples/LcmLora.Cli", "-c", "Release", "-o", feed, "-p:IsPackable=true", $"-p:Version={_version}",
            $"-p:ToolPackageRuntimeIdentifiers={rid}", "-nodeReuse:false");
        Assert.True(pack.Succeeded, "dotnet pack of the CLI tool failed:\n" + pack.Describe());

        // The pointer package: the tool's identity and readme, no binaries.
        var pointer = Path.Combine(feed, $"LcmLora.Cli.{_version}.nupkg");
        var platform = Path.Combine(feed, $"LcmLora.Cli.{rid}.{_version}.nupkg");
        Assert.True(File.Exists(pointer) && File.Exists(platform),
            $"expected {Path.GetFileName(pointer)} and {Path.GetFileName(platform)}; the feed has: {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");
        using (var zip = ZipFile.OpenRead(pointer))
        {
            Assert.Contains(zip.Entries, e => e.FullName == "README.md");
            Assert.DoesNotContain(zip.Entries, e => e.FullName.EndsWith(".so", StringComparison.Ordinal) || e.FullName.EndsWith(".dll", StringComparison.Ordinal));
        }
        Assert.True(new FileInfo(pointer).Length < 1_000_000, $"the pointer package is {new FileInfo(pointer).Length:N0} bytes");

        // The platform package: this platform's libtorch, the tool, nothing for the other platforms.
        using (var zip = ZipFile.OpenRead(platform))
        {
            var names = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains(names, n => n.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal));
            Assert.Contains(names, n => n.EndsWith("/libLibTorchSharp.so", StringComparison.Ordinal));
            Assert.Contains(names, n => n.EndsWith("/LcmLora.Cli.dll", StringComparison.Ordinal));
            foreach (var other in OtherPlatformsNatives)
                Assert.DoesNotContain(names, n => n.EndsWith("/" + other, StringComparison.Ordinal));
            Assert.DoesNotContain(names, n => n.Contains("/runtimes/win-", StringComparison.Ordinal) || n.Contains("/runtimes/osx-", StringComparison.Ordinal));
        }

        var toolPath = Path.Combine(_work, "tools");
        var install = DotnetCommand.Run(_work, PackedLcmLora.BuildTimeout,
            "tool", "install", "LcmLora.Cli", "--version", _version, "--add-source", feed, "--tool-path", toolPath);
        Assert.True(install.Succeeded, "dotnet tool install failed:\n" + install.Describe());
        var lcmlora = Path.Combine(toolPath, "lcmlora");
        Assert.True(File.Exists(lcmlora), $"no lcmlora command in {toolPath}:\n{install.Describe()}");

        var png = Path.Combine(_work, "tool.png");
        var run = DotnetCommand.RunProgram(lcmlora, _work, TimeSpan.FromMinutes(3),
            "generate", "--prompt", "a lighthouse", "--width", "32", "--height", "32", "--dtype", "fp32", "--seed", "7", "--out", png, "--quiet");
        Assert.True(run.Succeeded, "the installed lcmlora failed:\n" + run.Describe());
        Assert.True(new FileInfo(png).Length > 0, "the installed lcmlora wrote no PNG");
    }

    /// <summary>Removes the work folder and this run's packages from the NuGet global packages folder.</summary>
    public void Dispose()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages))
            packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var dir in new[] { _work, Path.Combine(packages, "lcmlora.cli", _version), Path.Combine(packages, "lcmlora.cli.linux-x64", _version),
                     Path.Combine(packages, "lcmlora", _version) })
        {
            try
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
