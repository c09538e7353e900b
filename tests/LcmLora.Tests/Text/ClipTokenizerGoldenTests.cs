using Xunit;

namespace LcmLora.Tests.Text;

/// <summary>
/// Every case of clip-tokenizer/tokenizer-cases.json (transformers' slow CLIPTokenizer without ftfy), both SDXL
/// tokenizers, padded and unpadded. The ftfy variant (tokenizer-cases-ftfy.json) is deliberately not matched;
/// its ids differ for 8 of the 61 prompts, where ftfy.fix_text replaces the BasicTokenizer clean-up: the two
/// CJK prompts and "naïve café in 東京 ..." (ideographs not spaced apart), the emoji ZWJ sequence and
/// "zero\u200bwidth space" (zero-width characters kept), "ellipsis… ... “curly” ‘quotes’" (quotes
/// straightened), "ﬁ ligature ..." (ligature expanded) and "full-width ＡＢＣ１２３" (narrowed to ASCII).
/// </summary>
[Trait("Category", "parity")]
public class ClipTokenizerGoldenTests
{
    /// <summary>(tokenizer 1 or 2, case index, prompt for the test name).</summary>
    public static TheoryData<int, int, string> CasesForBothTokenizers()
    {
        var data = new TheoryData<int, int, string>();
        var cases = ClipTokenizerFixtures.Golden.Cases;
        foreach (int which in new[] { 1, 2 })
            for (int i = 0; i < cases.Count; i++)
                data.Add(which, i, Label(cases[i].Prompt));
        return data;
    }

    /// <summary>(case index, prompt for the test name).</summary>
    public static TheoryData<int, string> Cases()
    {
        var data = new TheoryData<int, string>();
        var cases = ClipTokenizerFixtures.Golden.Cases;
        for (int i = 0; i < cases.Count; i++) data.Add(i, Label(cases[i].Prompt));
        return data;
    }

    [Fact]
    public void FixtureIsTheNoFtfyVariantAndTokenizerFoldersShareItsVocabulary()
    {
        var golden = ClipTokenizerFixtures.Golden;
        Assert.False(golden.FtfyInstalled);
        Assert.Equal(61, golden.Cases.Count);
        string shared = Fixtures.Path("clip-tokenizer");
        var expectedVocab = ReadVocab(Path.Combine(shared, "vocab.json"));
        foreach (int which in new[] { 1, 2 })
        {
            string folder = ClipTokenizerFixtures.TokenizerFolder(which);
            Assert.Equal(File.ReadAllText(Path.Combine(shared, "merges.txt")), File.ReadAllText(Path.Combine(folder, "merges.txt")));
            Assert.Equal(expectedVocab, ReadVocab(Path.Combine(folder, "vocab.json")));
            Assert.Equal(golden.VocabSize, ClipTokenizerFixtures.Tokenizer(which).VocabularySize);
        }
    }

    [Theory]
    [MemberData(nameof(CasesForBothTokenizers))]
    public void UnpaddedIdsMatchTransformers(int tokenizer, int caseIndex, string prompt)
    {
        _ = prompt; // for the test name
        var c = ClipTokenizerFixtures.Golden.Cases[caseIndex];
        var expected = c.For(tokenizer).IdsUnpadded;
        if (tokenizer == 1) Assert.Equal(c.IdsUnpadded, expected);
        Assert.Equal(c.NumIdsUnpadded, c.IdsUnpadded.Count);
        Assert.Equal(expected, ClipTokenizerFixtures.Tokenizer(tokenizer).Encode(c.Prompt));
    }

    [Theory]
    [MemberData(nameof(CasesForBothTokenizers))]
    public void PaddedIdsAndAttentionMaskMatchTransformers(int tokenizer, int caseIndex, string prompt)
    {
        _ = prompt; // for the test name
        var c = ClipTokenizerFixtures.Golden.Cases[caseIndex];
        var expected = c.For(tokenizer);
        var actual = ClipTokenizerFixtures.Tokenizer(tokenizer).EncodePadded(c.Prompt);
        Assert.Equal(expected.InputIds, actual.Ids);
        Assert.Equal(expected.AttentionMask, actual.AttentionMask);
        Assert.Equal(expected.AttentionMask.Sum(), actual.TokenCount);
        Assert.Equal(expected.IdsUnpadded.Count > 77, actual.Truncated);
        Assert.Equal(Math.Max(0, expected.IdsUnpadded.Count - 77), actual.DroppedTokenIds.Count);
    }

    [Theory]
    [MemberData(nameof(CasesForBothTokenizers))]
    public void BpeTokensMatchTransformers(int tokenizer, int caseIndex, string prompt)
    {
        _ = prompt; // for the test name
        var c = ClipTokenizerFixtures.Golden.Cases[caseIndex];
        var expected = tokenizer == 1 ? c.BpeTokens : c.Tokenizer2.BpeTokens!;
        Assert.Equal(expected, ClipTokenizerFixtures.Tokenizer(tokenizer).Tokenize(c.Prompt));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TokenizersDifferExactlyWhenThePromptHasAnExclamationMark(int caseIndex, string prompt)
    {
        _ = prompt; // for the test name
        var c = ClipTokenizerFixtures.Golden.Cases[caseIndex];
        bool differ = !ClipTokenizerFixtures.Tokenizer1.Encode(c.Prompt).SequenceEqual(ClipTokenizerFixtures.Tokenizer2.Encode(c.Prompt));
        Assert.Equal(c.TokenizersDiffer, differ);
        Assert.Equal(c.Prompt.Contains('!'), differ);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecodeMatchesTransformers(int caseIndex, string prompt)
    {
        _ = prompt; // for the test name
        var c = ClipTokenizerFixtures.Golden.Cases[caseIndex]; // "decoded" is tokenizer_1's decode(skip_special_tokens=True)
        Assert.Equal(c.Decoded, ClipTokenizerFixtures.Tokenizer1.Decode(c.IdsUnpadded));
    }

    private static Dictionary<string, int> ReadVocab(string path) =>
        System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(path))!;

    // Readable test names: control characters escaped, long prompts shortened.
    private static string Label(string prompt)
    {
        string escaped = string.Concat(prompt.Select(ch => char.IsControl(ch) ? $"\\x{(int)ch:x2}" : ch.ToString()));
        return escaped.Length > 40 ? escaped[..40] + "…" : escaped;
    }
}
