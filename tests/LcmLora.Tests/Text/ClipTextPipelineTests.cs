using LcmLora.Text;
using Xunit;

namespace LcmLora.Tests.Text;

/// <summary>
/// The hand-written text steps on inputs the golden file does not cover. Expected values were checked against
/// Python 3.11 (<c>str.lower()</c>, <c>regex.findall</c> with CLIP's pattern and IGNORECASE).
/// </summary>
[Trait("Category", "parity")]
public class ClipTextPipelineTests
{
    [Theory]
    [InlineData("ΚΌΣΜΟΣ", "κόσμος")] // final sigma
    [InlineData("ΣΑ", "σα")]
    [InlineData("Σ", "σ")]
    [InlineData("ΑΣ.", "ας.")]
    [InlineData("ΑΣ'Β", "ασ'β")] // an apostrophe is case-ignorable: a letter follows, not final
    [InlineData("İstanbul", "i\u0307stanbul")]
    [InlineData("ǅemal", "ǆemal")]
    [InlineData("already lower", "already lower")]
    public void LowerCaseFollowsPython(string text, string expected) =>
        Assert.Equal(expected, PythonLowerCase.ToLower(text));

    [Theory]
    [InlineData("  Multiple \t spaces\r\nand\u00A0NBSP  ", "multiple spaces and nbsp")]
    [InlineData("line\u2028separator", "line separator")]
    [InlineData("vertical\u000Btab", "verticaltab")] // \v is a control character to BERT's clean-up, not whitespace
    [InlineData("zero\u200Bwidth joiner\u200D", "zerowidth joiner")]
    [InlineData("replacement\uFFFDchar\u0000", "replacementchar")]
    [InlineData("lone\uD800surrogate", "lonesurrogate")]
    [InlineData("東京の夜景", "東 京 の 夜 景")]
    [InlineData("NFD e\u0301", "nfd \u00E9")]
    [InlineData("", "")]
    public void CleanerMatchesBasicTokenizer(string text, string expected) =>
        Assert.Equal(expected, ClipTextCleaner.Clean(text));

    [Theory]
    [InlineData("a\U0001D400b", new[] { "a\U0001D400b" })] // a letter outside the BMP stays inside the word
    [InlineData("x\U0001D7D9y", new[] { "x", "\U0001D7D9", "y" })] // so does a digit: one per token
    [InlineData("?'s", new[] { "?'", "s" })]
    [InlineData("don't", new[] { "don", "'t" })]
    [InlineData("'ll'd", new[] { "'ll", "'d" })]
    [InlineData("a'sb", new[] { "a", "'s", "b" })]
    [InlineData("½²3", new[] { "½", "²", "3" })]
    [InlineData("<|startoftext|>a", new[] { "<|startoftext|>", "a" })]
    [InlineData("hello.<|endoftext|>", new[] { "hello", ".<|", "endoftext", "|>" })]
    public void PreTokenizerMatchesClipPattern(string text, string[] expected) =>
        Assert.Equal(expected, ClipPreTokenizer.Split(text));

    [Fact]
    public void UpperCaseGreekEncodesLikeLowerCaseGreek() =>
        Assert.Equal(ClipTokenizerFixtures.Tokenizer1.Encode("κόσμος"), ClipTokenizerFixtures.Tokenizer1.Encode("ΚΌΣΜΟΣ"));

    [Fact]
    public void LiteralSpecialTokenIsCutFromRawTextBeforeThePattern()
    {
        // transformers splits "<|endoftext|>" out of the raw text first, so "." stays a token of its own.
        var tokenizer = ClipTokenizerFixtures.Tokenizer1;
        var hello = tokenizer.Encode("hello.");
        Assert.Equal([.. hello.SkipLast(1), 49407, 49407], tokenizer.Encode("hello.<|endoftext|>"));
    }

    [Fact]
    public void UpperCaseSpecialTokenTextIsLowerCasedAndStillMapsToItsId() =>
        Assert.Equal(new[] { 49406, 49407, 49407 }, ClipTokenizerFixtures.Tokenizer1.Encode("<|ENDOFTEXT|>"));

    [Fact]
    public void ExclamationMarkIsPadTokenOnlyInTokenizer2()
    {
        Assert.Equal(new[] { 49406, 256, 49407 }, ClipTokenizerFixtures.Tokenizer1.Encode("!"));
        Assert.Equal(new[] { 49406, 0, 49407 }, ClipTokenizerFixtures.Tokenizer2.Encode("!"));
        Assert.Equal("wow!", ClipTokenizerFixtures.Tokenizer2.Decode(ClipTokenizerFixtures.Tokenizer2.Encode("wow!"), skipSpecialTokens: false)
            .Replace("<|startoftext|>", "").Replace("<|endoftext|>", ""));
    }

    [Fact]
    public void DecodeCanKeepSpecialTokens() =>
        Assert.Equal("<|startoftext|>a photo of a cat <|endoftext|>",
            ClipTokenizerFixtures.Tokenizer1.Decode(ClipTokenizerFixtures.Tokenizer1.Encode("a photo of a cat"), skipSpecialTokens: false));

    [Fact]
    public void BpeResultsAreCachedPerWordIncludingLongWords()
    {
        var definition = ClipTokenizerFiles.Load(ClipTokenizerFixtures.TokenizerFolder(1));
        var bpe = new ClipBytePairEncoder(definition.Vocabulary, definition.Merges, definition.Unknown);
        int[] first = bpe.EncodeWord("pneumonoultramicroscopicsilicovolcanoconiosis");
        Assert.Equal(1, bpe.CachedWordCount);
        Assert.Same(first, bpe.EncodeWord("pneumonoultramicroscopicsilicovolcanoconiosis"));
        Assert.Equal(new[] { 49407 }, bpe.EncodeWord("<|endoftext|>"));
        Assert.Equal(1, bpe.CachedWordCount);
    }

    [Fact]
    public void EncodingIsThreadSafe()
    {
        var tokenizer = ClipTokenizerFixtures.Tokenizer2;
        var prompts = ClipTokenizerFixtures.Golden.Cases.Select(c => c.Prompt).ToArray();
        var expected = prompts.Select(p => tokenizer.Encode(p).ToArray()).ToArray();
        Parallel.For(0, prompts.Length * 8, i => Assert.Equal(expected[i % prompts.Length], tokenizer.Encode(prompts[i % prompts.Length])));
    }
}
