using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace LcmLora.Tests.Docs;

/// <summary>
/// Every ```csharp block in README.md and docs/*.md compiles as shown (with its own using directives) against the
/// library, TorchSharp and the framework, as a program of top-level statements. A reader copies these first.
/// </summary>
[Trait("Category", "unit")]
public class DocSnippetTests
{
    public static TheoryData<string, int> Snippets()
    {
        var data = new TheoryData<string, int>();
        foreach (var (file, index, _) in Blocks()) data.Add(file, index);
        return data;
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void CompilesAsShown(string file, int index)
    {
        var code = Blocks().Single(b => b.File == file && b.Index == index).Code;
        var tree = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest));
        // Statements make a program; a block holding only type declarations is a library.
        var statements = tree.GetRoot().ChildNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax>().Any();
        var implicitUsings = CSharpSyntaxTree.ParseText(
            "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic; global using System.Threading;");
        var compilation = CSharpCompilation.Create("Snippet", [implicitUsings, tree], References(),
            new CSharpCompilationOptions(statements ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
        Assert.True(errors.Count == 0, $"{file} block {index}:\n{string.Join("\n", errors)}\n---\n{code}");
    }

    private static IEnumerable<(string File, int Index, string Code)> Blocks()
    {
        var root = Fixtures.RepoRoot;
        var files = new[] { Path.Combine(root, "README.md") }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal));
        foreach (var path in files)
        {
            var matches = Regex.Matches(File.ReadAllText(path), "```csharp\\n(.*?)```", RegexOptions.Singleline);
            for (var i = 0; i < matches.Count; i++) yield return (Path.GetRelativePath(root, path), i, matches[i].Groups[1].Value);
        }
    }

    private static List<MetadataReference> References()
    {
        var trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var framework = trusted.Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll");
        return [.. framework.Concat([typeof(LcmLora.Pipelines.SdxlPipeline).Assembly.Location, typeof(TorchSharp.torch).Assembly.Location])
            .Distinct().Select(p => MetadataReference.CreateFromFile(p))];
    }
}
