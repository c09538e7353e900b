using Xunit;

namespace LcmLora.Tests.Packaging;

/// <summary>
/// The library's public surface (every public type and public/protected member) is checked in as
/// <c>api/LcmLora.public-api.txt</c>, so a change to what apps can see shows up in review as a diff of that file.
/// This test regenerates the listing from the built assembly and fails when it differs; after an intended change,
/// update the file with <c>LCMLORA_UPDATE_API=1 dotnet test tests/LcmLora.Tests --filter FullyQualifiedName~PublicApiTests</c>
/// and commit it.
/// </summary>
[Trait("Category", "unit")]
public class PublicApiTests
{
    public const string UpdateVariable = "LCMLORA_UPDATE_API";

    private static string ListingPath => Path.Combine(Fixtures.RepoRoot, "api", "LcmLora.public-api.txt");

    [Fact]
    public void PublicApiMatchesTheCheckedInListing()
    {
        var current = PublicApiListing.Lines(typeof(LcmLora.Pipelines.SdxlPipeline).Assembly);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(ListingPath)!);
            File.WriteAllText(ListingPath, string.Join("\n", current) + "\n");
            return;
        }
        var expected = File.Exists(ListingPath)
            ? File.ReadAllLines(ListingPath).Where(l => l.Length > 0).ToList()
            : [];
        var added = current.Except(expected, StringComparer.Ordinal).ToList();
        var removed = expected.Except(current, StringComparer.Ordinal).ToList();
        Assert.True(added.Count == 0 && removed.Count == 0,
            $"The public API differs from {Path.GetRelativePath(Fixtures.RepoRoot, ListingPath)} ({added.Count} added, {removed.Count} removed):\n" +
            string.Join("\n", removed.Select(l => "- " + l).Concat(added.Select(l => "+ " + l)).Take(200)) +
            $"\nIf the change is intended, regenerate the file and commit it:\n  {UpdateVariable}=1 dotnet test tests/LcmLora.Tests --filter FullyQualifiedName~PublicApiTests");
    }

    [Fact]
    public void TheListingNamesEveryPublicTypeOnce()
    {
        var assembly = typeof(LcmLora.Pipelines.SdxlPipeline).Assembly;
        var typeLines = PublicApiListing.Lines(assembly).Where(l => !l.Contains("::", StringComparison.Ordinal)).ToList();
        Assert.Equal(assembly.GetExportedTypes().Length, typeLines.Count);
        // Internals never appear: a block of the UNet, a runtime helper, a key table.
        Assert.DoesNotContain(typeLines, l => l.StartsWith("LcmLora.Models.Unet.SdxlUNet:", StringComparison.Ordinal)
            || l.StartsWith("LcmLora.Runtime.NativeHeap:", StringComparison.Ordinal) || l.StartsWith("LcmLora.Checkpoints.UNetSgmNames:", StringComparison.Ordinal));
        Assert.Contains(typeLines, l => l.StartsWith("LcmLora.Pipelines.SdxlPipeline: public sealed class", StringComparison.Ordinal));
    }
}
