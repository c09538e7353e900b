using System.Text.Json;
using System.Text.Json.Serialization;
using LcmLora.Text;

namespace LcmLora.Tests.Text;

/// <summary>The two SDXL tokenizers from the tiny-sdxl fixture, loaded once, and the golden cases.</summary>
internal static class ClipTokenizerFixtures
{
    private static readonly Lazy<ClipTokenizer> LazyTokenizer1 = new(() => ClipTokenizer.FromFolder(TokenizerFolder(1)));
    private static readonly Lazy<ClipTokenizer> LazyTokenizer2 = new(() => ClipTokenizer.FromFolder(TokenizerFolder(2)));
    private static readonly Lazy<GoldenFile> LazyGolden = new(LoadGolden);

    /// <summary>SDXL's <c>tokenizer</c> (pads with &lt;|endoftext|&gt;).</summary>
    public static ClipTokenizer Tokenizer1 => LazyTokenizer1.Value;

    /// <summary>SDXL's <c>tokenizer_2</c> (pads with '!').</summary>
    public static ClipTokenizer Tokenizer2 => LazyTokenizer2.Value;

    public static ClipTokenizer Tokenizer(int which) => which == 1 ? Tokenizer1 : Tokenizer2;

    public static string TokenizerFolder(int which) =>
        Fixtures.Path("tiny-sdxl", "diffusers", which == 1 ? "tokenizer" : "tokenizer_2");

    public static GoldenFile Golden => LazyGolden.Value;

    private static GoldenFile LoadGolden()
    {
        string json = File.ReadAllText(Fixtures.Path("clip-tokenizer", "tokenizer-cases.json"));
        return JsonSerializer.Deserialize<GoldenFile>(json, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })
            ?? throw new InvalidDataException("tokenizer-cases.json is empty");
    }
}

/// <summary>tokenizer-cases.json: ids from transformers' slow CLIPTokenizer without ftfy.</summary>
internal sealed record GoldenFile(bool FtfyInstalled, Dictionary<string, JsonElement> SpecialTokens, int VocabSize, List<GoldenCase> Cases);

/// <summary>One prompt. Top-level ids/tokens are tokenizer_1's; <see cref="Decoded"/> is tokenizer_1's
/// <c>decode(ids_unpadded, skip_special_tokens=True)</c>.</summary>
internal sealed record GoldenCase(
    string Prompt,
    List<string> BpeTokens,
    List<int> IdsUnpadded,
    int NumIdsUnpadded,
    [property: JsonPropertyName("tokenizer_1")] GoldenTokenizerResult Tokenizer1,
    [property: JsonPropertyName("tokenizer_2")] GoldenTokenizerResult Tokenizer2,
    bool TokenizersDiffer,
    string Decoded)
{
    public GoldenTokenizerResult For(int which) => which == 1 ? Tokenizer1 : Tokenizer2;
}

/// <summary>Per tokenizer: padded call (input_ids, attention_mask), unpadded ids, and (tokenizer_2 only) BPE tokens.</summary>
internal sealed record GoldenTokenizerResult(List<int> InputIds, List<int> AttentionMask, List<int> IdsUnpadded, List<string>? BpeTokens);
