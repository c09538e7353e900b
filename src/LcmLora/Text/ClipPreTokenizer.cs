using System.Text;

namespace LcmLora.Text;

/// <summary>
/// Splits cleaned text into the words CLIP runs BPE on, exactly like <c>re.findall</c> with CLIP's pattern
/// (Python <c>regex</c> module, IGNORECASE):
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>.
/// </summary>
/// <remarks>
/// Hand-written rather than a .NET <see cref="System.Text.RegularExpressions.Regex"/> because .NET regexes
/// classify UTF-16 code units: a letter or digit outside the BMP (mathematical alphanumerics, CJK extension B,
/// ...) is two surrogates there, so <c>\p{L}</c> would not match it and words would split differently from
/// Python, which matches whole code points. Alternatives are tried in order at each position, as the regex does.
/// </remarks>
internal static class ClipPreTokenizer
{
    private static readonly string[] WholeTokens = ["<|startoftext|>", "<|endoftext|>"];
    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    /// <summary>The words of <paramref name="text"/> in order; whitespace is dropped.</summary>
    public static List<string> Split(string text)
    {
        var words = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            Rune rune = RuneAt(text, i, out int length);
            if (Rune.IsWhiteSpace(rune))
            {
                i += length;
                continue;
            }

            int end = MatchLiteral(text, i, WholeTokens) ?? MatchLiteral(text, i, Contractions) ?? MatchClass(text, i, rune, length);
            words.Add(text[i..end]);
            i = end;
        }

        return words;
    }

    private static int? MatchLiteral(string text, int start, string[] literals)
    {
        foreach (string literal in literals)
            if (text.AsSpan(start).StartsWith(literal, StringComparison.OrdinalIgnoreCase)) return start + literal.Length;
        return null;
    }

    // [\p{L}]+ | [\p{N}] | [^\s\p{L}\p{N}]+ starting with the rune at start.
    private static int MatchClass(string text, int start, Rune first, int firstLength)
    {
        CharClass kind = Classify(first);
        int end = start + firstLength;
        if (kind == CharClass.Number) return end;
        while (end < text.Length)
        {
            Rune next = RuneAt(text, end, out int length);
            if (Classify(next) != kind) break;
            end += length;
        }

        return end;
    }

    private enum CharClass { Letter, Number, Other, Space }

    private static CharClass Classify(Rune rune) =>
        Rune.IsLetter(rune) ? CharClass.Letter
        : Rune.IsNumber(rune) ? CharClass.Number
        : Rune.IsWhiteSpace(rune) ? CharClass.Space
        : CharClass.Other;

    // A lone surrogate (never left by the cleaner) counts as one "other" character.
    private static Rune RuneAt(string text, int index, out int length)
    {
        if (Rune.DecodeFromUtf16(text.AsSpan(index), out Rune rune, out length) == System.Buffers.OperationStatus.Done)
            return rune;
        length = 1;
        return Rune.ReplacementChar;
    }
}
