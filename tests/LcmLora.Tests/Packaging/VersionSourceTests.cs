using Xunit;

namespace LcmLora.Tests.Packaging;

/// <summary>The CLI tool and the library come from one version source (Directory.Build.props): the tool was 1.0.0
/// while the library was 0.1.0.</summary>
[Trait("Category", "unit")]
public class VersionSourceTests
{
    [Fact]
    public void CliAndLibraryShareOneVersion()
    {
        var library = typeof(LcmLora.Pipelines.SdxlPipeline).Assembly.GetName().Version;
        var cli = typeof(LcmLora.Cli.CliApp).Assembly.GetName().Version;
        Assert.Equal(library, cli);
        Assert.NotEqual(new Version(1, 0, 0, 0), cli);
    }

    [Fact]
    public void TheToolPackageHasAReadme()
    {
        var project = File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "samples", "LcmLora.Cli", "LcmLora.Cli.csproj"));
        Assert.Contains("<PackageReadmeFile>README.md</PackageReadmeFile>", project);
        Assert.Contains("lcmlora generate", File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "samples", "LcmLora.Cli", "README.md")));
    }
}
