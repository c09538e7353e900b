using Xunit;

namespace LcmLora.Tests.Packaging;

/// <summary>
/// Packs src/LcmLora once for the packaging tests, into a temporary folder that then serves as a local NuGet feed.
/// The version is unique per run (0.1.0-test.&lt;timestamp&gt;), so a consumer restore can never pick up a stale
/// LcmLora from the NuGet cache; that cache entry is deleted again when the tests finish.
/// </summary>
public sealed class PackedLcmLora : IDisposable
{
    /// <summary>Upper bound for one pack or build of the package or the sample (a slow, shared 2-core machine).</summary>
    public static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(8);

    private readonly Lazy<DotnetCommand.Result> _pack;

    /// <summary>Prepares the folders; the pack runs on first use.</summary>
    public PackedLcmLora()
    {
        Version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        WorkDir = Path.Combine(Path.GetTempPath(), $"lcmlora-packaging-{Guid.NewGuid():N}");
        Feed = Path.Combine(WorkDir, "feed");
        Directory.CreateDirectory(Feed);
        _pack = new Lazy<DotnetCommand.Result>(() => DotnetCommand.Run(Fixtures.RepoRoot, BuildTimeout,
            "pack", "src/LcmLora", "-c", "Release", "-o", Feed, $"-p:Version={Version}", "-nodeReuse:false"));
    }

    /// <summary>The package version of this run.</summary>
    public string Version { get; }

    /// <summary>A temporary folder for this run (deleted at the end).</summary>
    public string WorkDir { get; }

    /// <summary>The folder holding the .nupkg and .snupkg.</summary>
    public string Feed { get; }

    /// <summary>The package file.</summary>
    public string Nupkg => Path.Combine(Feed, $"LcmLora.{Version}.nupkg");

    /// <summary>The symbol package file.</summary>
    public string Snupkg => Path.Combine(Feed, $"LcmLora.{Version}.snupkg");

    /// <summary>Packs (once) and fails the calling test with the pack output when packing failed.</summary>
    public void EnsurePacked()
    {
        var result = _pack.Value;
        Assert.True(result.Succeeded, "dotnet pack failed:\n" + result.Describe());
        Assert.True(File.Exists(Nupkg), $"{Nupkg} was not created.\n{result.Describe()}");
    }

    /// <summary>Removes the temporary folder and this run's package from the NuGet global packages folder.</summary>
    public void Dispose()
    {
        TryDelete(WorkDir);
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages))
            packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        TryDelete(Path.Combine(packages, "lcmlora", Version.ToLowerInvariant()));
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>The packaging test classes share one packed package.</summary>
[CollectionDefinition(Name)]
public sealed class PackagingCollection : ICollectionFixture<PackedLcmLora>
{
    /// <summary>The collection name.</summary>
    public const string Name = "Packaging";
}
