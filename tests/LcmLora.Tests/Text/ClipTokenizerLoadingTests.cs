using LcmLora.Text;
using Xunit;

namespace LcmLora.Tests.Text;

/// <summary>What <see cref="ClipTokenizer.FromFolder"/> reads from the folder, and how it reports bad folders.</summary>
[Trait("Category", "unit")]
public class ClipTokenizerLoadingTests
{
    [Fact]
    public void ReadsSpecialTokensAndMaxLengthOfBothSdxlTokenizers()
    {
        var t1 = ClipTokenizerFixtures.Tokenizer1;
        var t2 = ClipTokenizerFixtures.Tokenizer2;
        Assert.Equal((49406, 49407, 49407, "<|endoftext|>", 77), (t1.BosTokenId, t1.EosTokenId, t1.PadTokenId, t1.PadToken, t1.ModelMaxLength));
        Assert.Equal((49406, 49407, 0, "!", 77), (t2.BosTokenId, t2.EosTokenId, t2.PadTokenId, t2.PadToken, t2.ModelMaxLength));
        Assert.Equal(49408, t1.VocabularySize);
    }

    [Fact]
    public void MissingFolderIsReported()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lcmlora-no-such-tokenizer-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<ClipTokenizerLoadException>(() => ClipTokenizer.FromFolder(dir));
        Assert.Equal(dir, e.FilePath);
        Assert.Contains("does not exist", e.Message);
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("merges.txt")]
    [InlineData("special_tokens_map.json")]
    [InlineData("tokenizer_config.json")]
    public void MissingFileIsNamedInTheError(string file)
    {
        using var folder = new TokenizerFolderCopy(2);
        File.Delete(folder.File(file));
        var e = Assert.Throws<ClipTokenizerLoadException>(() => ClipTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File(file), e.FilePath);
        Assert.Contains(folder.File(file), e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("special_tokens_map.json")]
    [InlineData("tokenizer_config.json")]
    public void InvalidJsonIsNamedInTheError(string file)
    {
        using var folder = new TokenizerFolderCopy(1);
        File.WriteAllText(folder.File(file), "{ \"truncated\": ");
        var e = Assert.Throws<ClipTokenizerLoadException>(() => ClipTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File(file), e.FilePath);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void NonIntegerVocabularyIdIsReported()
    {
        using var folder = new TokenizerFolderCopy(1);
        File.WriteAllText(folder.File("vocab.json"), "{\"a\": 0, \"b\": \"one\"}");
        var e = Assert.Throws<ClipTokenizerLoadException>(() => ClipTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("vocab.json"), e.FilePath);
        Assert.Contains("'b'", e.Message);
    }

    [Fact]
    public void MalformedMergeLineIsReportedWithItsLineNumber()
    {
        using var folder = new TokenizerFolderCopy(1);
        var lines = File.ReadAllLines(folder.File("merges.txt"));
        lines[3] = "a b c";
        File.WriteAllLines(folder.File("merges.txt"), lines);
        var e = Assert.Throws<ClipTokenizerLoadException>(() => ClipTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("merges.txt"), e.FilePath);
        Assert.Contains("line 4", e.Message);
    }

    [Fact]
    public void MergeOfUnknownSymbolsIsReportedAgainstMergesTxt()
    {
        using var folder = new TokenizerFolderCopy(1);
        var lines = File.ReadAllLines(folder.File("merges.txt"));
        lines[1] = "nosuchsymbol x";
        File.WriteAllLines(folder.File("merges.txt"), lines);
        var e = Assert.Throws<ClipTokenizerLoadException>(() => ClipTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("merges.txt"), e.FilePath);
        Assert.Contains("nosuchsymbol", e.Message);
        Assert.IsType<InvalidOperationException>(e.InnerException);
    }

    [Fact]
    public void PadTokenMissingFromVocabularyIsReportedAgainstTheFileThatNamesIt()
    {
        using var folder = new TokenizerFolderCopy(1);
        string map = File.ReadAllText(folder.File("special_tokens_map.json"));
        File.WriteAllText(folder.File("special_tokens_map.json"), map.Replace("\"pad_token\": \"<|endoftext|>\"", "\"pad_token\": \"<pad>\""));
        var e = Assert.Throws<ClipTokenizerLoadException>(() => ClipTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("special_tokens_map.json"), e.FilePath);
        Assert.Contains("pad_token '<pad>'", e.Message);
    }

    [Fact]
    public void ModelMaxLengthComesFromTokenizerConfig()
    {
        using var folder = new TokenizerFolderCopy(1);
        string config = File.ReadAllText(folder.File("tokenizer_config.json"));
        File.WriteAllText(folder.File("tokenizer_config.json"), config.Replace("\"model_max_length\": 77", "\"model_max_length\": 16"));
        var tokenizer = ClipTokenizer.FromFolder(folder.Path);
        Assert.Equal(16, tokenizer.ModelMaxLength);
        Assert.Equal(16, tokenizer.EncodePadded("a photo of a cat").Length);
    }

    [Fact]
    public void BadModelMaxLengthIsReported()
    {
        using var folder = new TokenizerFolderCopy(1);
        string config = File.ReadAllText(folder.File("tokenizer_config.json"));
        File.WriteAllText(folder.File("tokenizer_config.json"), config.Replace("\"model_max_length\": 77", "\"model_max_length\": \"long\""));
        var e = Assert.Throws<ClipTokenizerLoadException>(() => ClipTokenizer.FromFolder(folder.Path));
        Assert.Equal(folder.File("tokenizer_config.json"), e.FilePath);
        Assert.Contains("model_max_length", e.Message);
    }

    /// <summary>A throw-away copy of a fixture tokenizer folder that a test may break.</summary>
    private sealed class TokenizerFolderCopy : IDisposable
    {
        public TokenizerFolderCopy(int which)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lcmlora-tokenizer-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
            foreach (string file in Directory.GetFiles(ClipTokenizerFixtures.TokenizerFolder(which)))
            {
                string target = File(System.IO.Path.GetFileName(file));
                System.IO.File.Copy(file, target);
                System.IO.File.SetAttributes(target, FileAttributes.Normal); // fixtures are read-only
            }
        }

        public string Path { get; }

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
