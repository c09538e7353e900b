using System.Text;

namespace LcmLora.Text;

/// <summary>
/// Turns ids back into text like transformers' <c>CLIPTokenizer.decode</c>: byte-level symbols back to UTF-8
/// bytes (invalid sequences become U+FFFD), each <c>&lt;/w&gt;</c> becomes a space, the ends are trimmed, and
/// with <c>clean_up_tokenization_spaces</c> the spaces before punctuation and English contractions are removed.
/// Hand-written because <see cref="Microsoft.ML.Tokenizers.BpeTokenizer"/>'s byte-level decoding drops the
/// end-of-word suffix without putting a space in its place, which would run CLIP's words together.
/// </summary>
internal sealed class ClipTokenDecoder
{
    private static readonly Dictionary<char, byte> UnicodeToByte = BuildUnicodeToByte();

    private readonly Dictionary<int, string> _idToToken;
    private readonly HashSet<int> _specialIds;
    private readonly bool _cleanUpTokenizationSpaces;

    public ClipTokenDecoder(ClipTokenizerDefinition definition)
    {
        _idToToken = new Dictionary<int, string>(definition.Vocabulary.Count);
        foreach ((string token, int id) in definition.Vocabulary) _idToToken[id] = token;
        foreach ((string token, int id) in definition.AddedTokens) _idToToken[id] = token; // added tokens win, as in transformers
        _specialIds = definition.SpecialTokenIds;
        _cleanUpTokenizationSpaces = definition.CleanUpTokenizationSpaces;
    }

    /// <summary>The vocabulary entry of <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not in the vocabulary.</exception>
    public string TokenOf(int id) =>
        _idToToken.TryGetValue(id, out string? token)
            ? token
            : throw new ArgumentOutOfRangeException(nameof(id), id, "The id is not in the tokenizer's vocabulary.");

    public bool IsSpecial(int id) => _specialIds.Contains(id);

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens)
    {
        var bytes = new List<byte>();
        Span<byte> utf8 = stackalloc byte[4];
        foreach (int id in ids)
        {
            if (skipSpecialTokens && _specialIds.Contains(id)) continue;
            foreach (Rune rune in TokenOf(id).EnumerateRunes())
            {
                if (rune.IsBmp && UnicodeToByte.TryGetValue((char)rune.Value, out byte b)) bytes.Add(b);
                else bytes.AddRange(utf8[..rune.EncodeToUtf8(utf8)]); // only in odd added tokens
            }
        }

        string text = Encoding.UTF8.GetString(bytes.ToArray()).Replace("</w>", " ").Trim();
        return _cleanUpTokenizationSpaces ? CleanUpTokenizationSpaces(text) : text;
    }

    /// <summary>transformers' <c>clean_up_tokenization</c>, same replacements in the same order.</summary>
    private static string CleanUpTokenizationSpaces(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");

    /// <summary>The inverse of GPT-2/CLIP's <c>bytes_to_unicode</c>: printable Latin-1 bytes stand for
    /// themselves, the other 68 bytes for U+0100 onwards in byte order.</summary>
    private static Dictionary<char, byte> BuildUnicodeToByte()
    {
        var map = new Dictionary<char, byte>(256);
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is (>= '!' and <= '~') or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF);
            map[(char)(printable ? b : next++)] = (byte)b;
        }

        return map;
    }
}
