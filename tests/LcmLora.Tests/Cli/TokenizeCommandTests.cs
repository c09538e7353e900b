using System.Text.Json;
using Xunit;

namespace LcmLora.Tests.Cli;

[Trait("Category", "cli")]
public class TokenizeCommandTests
{
    [Fact]
    public void JsonIdsMatchTheGoldenCaseForTokenizer2()
    {
        using var cases = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("clip-tokenizer", "tokenizer-cases.json")));
        var r = CliRunner.Run("tokenize", "--tokenizer", Fixtures.Path("tiny-sdxl", "diffusers", "tokenizer_2"), "--json", "A cat, sitting on a MAT!");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var ids = doc.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.Equal(77, ids.Count);
        Assert.Equal(49406, ids[0]);
        Assert.Equal(0, ids[^1]);
        Assert.Contains(0, ids.Skip(1).Take(ids.IndexOf(49407)));
    }

    [Fact]
    public void MissingTokenizerFolderIsBadInput()
    {
        var r = CliRunner.Run("tokenize", "--tokenizer", "/nonexistent/tok", "hello");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("/nonexistent/tok", r.Err);
    }
}
