using LcmLora.Text;
using Xunit;

namespace LcmLora.Tests.Text;

/// <summary>Truncation (and its flag) and chunked encoding for long prompts.</summary>
[Trait("Category", "unit")]
public class ClipTokenizerPaddingTests
{
    private const int Bos = 49406, Eos = 49407;

    // "word" is a single token (id 1996 + </w>), so n words make n content tokens.
    private static string Words(int n) => string.Join(' ', Enumerable.Repeat("word", n));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ShortPromptIsNotTruncated(int tokenizer)
    {
        var row = ClipTokenizerFixtures.Tokenizer(tokenizer).EncodePadded("a photo of a cat");
        Assert.False(row.Truncated);
        Assert.Empty(row.DroppedTokenIds);
        Assert.Equal(7, row.TokenCount);
        Assert.Equal(77, row.Length);
    }

    [Fact]
    public void SeventyFiveTokensFitAndSeventySixAreTruncated()
    {
        var tokenizer = ClipTokenizerFixtures.Tokenizer1;
        Assert.Equal(77, tokenizer.Encode(Words(75)).Count);

        var fits = tokenizer.EncodePadded(Words(75));
        Assert.False(fits.Truncated);
        Assert.Equal(77, fits.TokenCount);

        var cut = tokenizer.EncodePadded(Words(76));
        Assert.True(cut.Truncated);
        Assert.Equal(77, cut.TokenCount);
        Assert.Equal(Eos, cut.Ids[76]);
        Assert.Single(cut.DroppedTokenIds);
        Assert.Equal("word", tokenizer.Decode(cut.DroppedTokenIds));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TruncationKeepsBosTheFirst75TokensAndEos(int which)
    {
        var tokenizer = ClipTokenizerFixtures.Tokenizer(which);
        string prompt = ClipTokenizerFixtures.Golden.Cases.Single(c => c.NumIdsUnpadded == 195).Prompt;
        var all = tokenizer.Encode(prompt);
        var row = tokenizer.EncodePadded(prompt);
        Assert.True(row.Truncated);
        Assert.Equal(all.Take(76).Append(Eos), row.Ids);
        Assert.Equal(all.Skip(76).Take(all.Count - 77), row.DroppedTokenIds);
        Assert.Equal(195 - 77, row.DroppedTokenIds.Count);
        Assert.All(row.AttentionMask, m => Assert.Equal(1, m));
    }

    [Fact]
    public void ShorterRowLengthCanBeAsked()
    {
        var row = ClipTokenizerFixtures.Tokenizer2.EncodePadded("a photo of a cat", maxLength: 5);
        Assert.Equal(new[] { Bos, 320, 1125, 539, Eos }, row.Ids);
        Assert.True(row.Truncated);
        Assert.Equal(new[] { 320, 2368 }, row.DroppedTokenIds);
        Assert.Throws<ArgumentOutOfRangeException>(() => ClipTokenizerFixtures.Tokenizer2.EncodePadded("a", maxLength: 2));
    }

    [Theory]
    [InlineData(1, 0, 1)]
    [InlineData(1, 75, 1)]
    [InlineData(1, 76, 2)]
    [InlineData(2, 150, 2)]
    [InlineData(2, 151, 3)]
    public void ChunksHold75TokensEachWrappedAndPadded(int which, int words, int expectedChunks)
    {
        var tokenizer = ClipTokenizerFixtures.Tokenizer(which);
        var chunks = tokenizer.EncodeChunked(Words(words));
        Assert.Equal(expectedChunks, chunks.Count);
        var content = new List<int>();
        foreach (var chunk in chunks)
        {
            Assert.Equal(77, chunk.Length);
            Assert.False(chunk.Truncated);
            Assert.Equal(Bos, chunk.Ids[0]);
            Assert.Equal(Eos, chunk.Ids[chunk.TokenCount - 1]);
            Assert.All(chunk.Ids.Skip(chunk.TokenCount), id => Assert.Equal(tokenizer.PadTokenId, id));
            content.AddRange(chunk.Ids.Skip(1).Take(chunk.TokenCount - 2));
        }

        Assert.All(chunks.SkipLast(1), chunk => Assert.Equal(77, chunk.TokenCount));
        Assert.Equal(tokenizer.Encode(Words(words)).Skip(1).SkipLast(1), content);
    }

    [Fact]
    public void ChunkOfAShortPromptEqualsThePaddedRow()
    {
        var tokenizer = ClipTokenizerFixtures.Tokenizer2;
        var chunk = Assert.Single(tokenizer.EncodeChunked("hello world!"));
        Assert.Equal(tokenizer.EncodePadded("hello world!").Ids, chunk.Ids);
    }

    [Fact]
    public void IdsConvertToInt64ForTextEncoders()
    {
        var row = ClipTokenizerFixtures.Tokenizer1.EncodePadded("a");
        Assert.Equal(row.Ids.Select(id => (long)id), row.ToInt64Array());
    }
}
