using System.Globalization;
using System.Text;

namespace LcmLora.Text;

/// <summary>
/// The text clean-up transformers' slow <c>CLIPTokenizer</c> applies when ftfy is not installed (the set-up the
/// golden fixtures were made with): its fallback <c>BasicTokenizer(strip_accents=False, do_split_on_punc=False)</c>,
/// then <c>" ".join(tokens)</c>. Hand-written because no .NET library reproduces BERT's BasicTokenizer exactly:
/// <list type="number">
/// <item>drop U+0000, U+FFFD and every character whose category starts with C (controls, format characters such
/// as zero-width spaces and joiners, private use, unassigned, lone surrogates), except tab, CR and LF;</item>
/// <item>turn tab, CR, LF and space separators (Zs) into a space;</item>
/// <item>put spaces around CJK ideographs;</item>
/// <item>NFC-normalise, split on whitespace, lower-case each piece with Python's <c>str.lower()</c>
/// rules (<see cref="PythonLowerCase"/>) and join the pieces with single spaces.</item>
/// </list>
/// </summary>
/// <remarks>
/// With ftfy installed transformers would run <c>ftfy.fix_text</c> instead; the results differ for some
/// non-ASCII prompts (full-width forms, ligatures, curly quotes, CJK). diffusers' own environment usually lacks
/// ftfy, and the fixtures in <c>tokenizer-cases.json</c> are the no-ftfy variant.
/// </remarks>
internal static class ClipTextCleaner
{
    /// <summary>Cleans <paramref name="text"/>; the result has no leading, trailing or repeated whitespace.</summary>
    public static string Clean(string text)
    {
        var builder = new StringBuilder(text.Length + 8);
        int i = 0;
        while (i < text.Length)
        {
            bool valid = Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int used) == System.Buffers.OperationStatus.Done;
            i += used;
            if (!valid) continue; // a lone surrogate: category Cs, dropped like every other C* character
            if (rune.Value is 0 or 0xFFFD || IsControl(rune)) continue;
            if (IsWhitespace(rune)) builder.Append(' ');
            else if (IsCjkIdeograph(rune.Value)) builder.Append(' ').Append(rune.ToString()).Append(' ');
            else builder.Append(rune.ToString());
        }

        string normalized = builder.ToString().Normalize(NormalizationForm.FormC);
        string[] pieces = normalized.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        for (int p = 0; p < pieces.Length; p++) pieces[p] = PythonLowerCase.ToLower(pieces[p]);
        return string.Join(' ', pieces);
    }

    private static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r') return false;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    private static bool IsWhitespace(Rune rune) =>
        rune.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator;

    /// <summary>The "CJK Unified Ideographs" blocks BERT's <c>_is_chinese_char</c> lists (not kana or hangul).</summary>
    private static bool IsCjkIdeograph(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
