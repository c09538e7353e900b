using System.Globalization;
using System.Text;

namespace LcmLora.Text;

/// <summary>
/// Python's <c>str.lower()</c>, which the CLIP clean-up uses. Hand-written because .NET's invariant lower-casing
/// is a per-character simple mapping, while Python applies two rules from Unicode's SpecialCasing.txt:
/// U+0130 (İ) becomes "i" + U+0307, and a capital sigma at the end of a word becomes final sigma (ς), so
/// "ΚΌΣΜΟΣ" lower-cases to "κόσμος" rather than "κόσμοσ" (different BPE tokens).
/// </summary>
/// <remarks>
/// The Final_Sigma test follows CPython's <c>handle_capital_sigma</c>; the "cased" and "case-ignorable"
/// properties are approximated from general categories plus the handful of code points Unicode adds to them,
/// which covers real text.
/// </remarks>
internal static class PythonLowerCase
{
    private const int CapitalSigma = 0x03A3;

    /// <summary>Lower-cases <paramref name="text"/> the way Python 3 does.</summary>
    public static string ToLower(string text)
    {
        StringBuilder? builder = null;
        for (int i = 0; i < text.Length;)
        {
            Rune rune = Rune.GetRuneAt(text, i);
            string? replacement = rune.Value switch
            {
                0x0130 => "i\u0307",
                CapitalSigma => IsFinalSigma(text, i) ? "\u03C2" : "\u03C3",
                _ => null,
            };
            Rune lower = Rune.ToLowerInvariant(rune);
            if (builder is null && (replacement is not null || lower != rune))
                builder = new StringBuilder(text, 0, i, text.Length + 4);
            if (replacement is not null) builder!.Append(replacement);
            else builder?.Append(lower.ToString());
            i += rune.Utf16SequenceLength;
        }

        return builder?.ToString() ?? text;
    }

    // Σ is final when a cased letter precedes it and none follows, skipping case-ignorable characters both ways.
    private static bool IsFinalSigma(string text, int index)
    {
        int j = index;
        Rune before = default;
        bool found = false;
        while (j > 0)
        {
            Rune.DecodeLastFromUtf16(text.AsSpan(0, j), out before, out int used);
            j -= used;
            if (!IsCaseIgnorable(before)) { found = true; break; }
        }

        if (!found || !IsCased(before)) return false;
        for (int k = index + 1; k < text.Length;)
        {
            Rune after = Rune.GetRuneAt(text, k);
            if (!IsCaseIgnorable(after)) return !IsCased(after);
            k += after.Utf16SequenceLength;
        }

        return true;
    }

    private static bool IsCased(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
            or UnicodeCategory.TitlecaseLetter
        || rune.Value is 0xAA or 0xBA or (>= 0x2160 and <= 0x217F) or (>= 0x24B6 and <= 0x24E9);

    private static bool IsCaseIgnorable(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol
        || rune.Value is '\'' or '.' or ':' or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019 or 0x2024
            or 0x2027 or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A;
}
