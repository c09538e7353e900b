using LcmLora.Runtime;

namespace LcmLora.Text;

/// <summary>
/// The two SDXL tokenizers. A single-file SDXL checkpoint holds no tokenizer, so LcmLora carries the CLIP BPE
/// vocabulary and merges (OpenAI CLIP's <c>bpe_simple_vocab_16e6</c>, MIT licence) and the two SDXL tokenizer
/// configurations (tokenizer pads with <c>&lt;|endoftext|&gt;</c>, tokenizer_2 with <c>!</c>) as resources; they are
/// written once to a cache folder and read from there like any diffusers tokenizer folder.
/// </summary>
public static class SdxlTokenizers
{
    /// <summary>The built-in tokenizer (CLIP-L, pads with &lt;|endoftext|&gt;) and tokenizer_2 (bigG, pads with '!').</summary>
    public static (ClipTokenizer Tokenizer, ClipTokenizer Tokenizer2) BuiltIn()
    {
        var root = ExtractBuiltIn();
        return (ClipTokenizer.FromFolder(Path.Combine(root, "tokenizer")), ClipTokenizer.FromFolder(Path.Combine(root, "tokenizer_2")));
    }

    /// <summary>
    /// The tokenizers of a diffusers pipeline folder (its <c>tokenizer/</c> and <c>tokenizer_2/</c>), or the built-in
    /// ones when the folder has none.
    /// </summary>
    public static (ClipTokenizer Tokenizer, ClipTokenizer Tokenizer2) ForModel(string? modelFolder, string? tokenizerDir = null, string? tokenizer2Dir = null)
    {
        var builtIn = new Lazy<(ClipTokenizer, ClipTokenizer)>(BuiltIn);
        ClipTokenizer Pick(string? explicitDir, string sub, Func<(ClipTokenizer, ClipTokenizer), ClipTokenizer> fallback)
        {
            if (explicitDir is not null) return ClipTokenizer.FromFolder(explicitDir);
            if (modelFolder is not null && Directory.Exists(Path.Combine(modelFolder, sub))) return ClipTokenizer.FromFolder(Path.Combine(modelFolder, sub));
            return fallback(builtIn.Value);
        }
        return (Pick(tokenizerDir, "tokenizer", t => t.Item1), Pick(tokenizer2Dir, "tokenizer_2", t => t.Item2));
    }

    /// <summary>Writes the built-in tokenizer folders to the cache (once) and returns their parent folder.</summary>
    internal static string ExtractBuiltIn() => ResourceCache.Folder("sdxl-tokenizers",
        new[] { "tokenizer", "tokenizer_2" }.SelectMany(sub => new[]
        {
            new ResourceCache.Entry("LcmLora.Text.Resources.vocab.json.gz", Path.Combine(sub, "vocab.json"), Gzip: true),
            new ResourceCache.Entry("LcmLora.Text.Resources.merges.txt.gz", Path.Combine(sub, "merges.txt"), Gzip: true),
            new ResourceCache.Entry($"LcmLora.Text.Resources.{sub}.special_tokens_map.json", Path.Combine(sub, "special_tokens_map.json")),
            new ResourceCache.Entry($"LcmLora.Text.Resources.{sub}.tokenizer_config.json", Path.Combine(sub, "tokenizer_config.json")),
        }));
}
