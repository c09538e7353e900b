using Xunit;

namespace LcmLora.Tests.Runtime;

/// <summary>
/// TorchSharp's native set-up has one entry point in the library: the module initializer that consuming apps get
/// (TryInitialize, which never throws before Main), and SdxlPipeline.Load for apps that opted out. Lower layers (IO,
/// Checkpoints, Models) never call it.
/// </summary>
[Trait("Category", "unit")]
public class NativeRuntimeEntryPointTests
{
    [Fact]
    public void OnlyTheModuleInitializerAndThePipelineCallEnsureInitialized()
    {
        var src = Path.Combine(Fixtures.RepoRoot, "src", "LcmLora");
        var callers = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Where(f => File.ReadLines(f).Any(l => (l.Contains("EnsureInitialized()", StringComparison.Ordinal) || l.Contains("TryInitialize()", StringComparison.Ordinal))
                && !l.TrimStart().StartsWith("///", StringComparison.Ordinal)
                && !l.Contains("public static void EnsureInitialized", StringComparison.Ordinal) && !l.Contains("public static bool TryInitialize", StringComparison.Ordinal)
                && !l.Contains("if (!TryInitialize())", StringComparison.Ordinal)))
            .Select(f => Path.GetRelativePath(src, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Equal(["Pipelines/SdxlPipeline.cs", "build/LcmLoraModuleInitializer.cs"], callers);
    }
}
