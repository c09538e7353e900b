namespace LcmLora.Text;

/// <summary>
/// Cuts a prompt's raw text at its "added tokens" before any clean-up, as transformers'
/// <c>PreTrainedTokenizer.tokenize</c> does with its trie: the text between them is tokenized piece by piece,
/// and each added token becomes its id directly. For SDXL this matters for <c>tokenizer_2</c>, whose pad token
/// <c>!</c> is registered as an added token, so every literal <c>!</c> becomes id 0 there instead of a BPE
/// token such as <c>!&lt;/w&gt;</c> (256) or <c>?!&lt;/w&gt;</c>.
/// </summary>
/// <remarks>
/// Matching is case-sensitive and takes the longest token at the leftmost position. The tokens' <c>lstrip</c>
/// and <c>rstrip</c> flags are not needed: the clean-up drops whitespace at the ends of every piece anyway.
/// </remarks>
internal sealed class AddedTokenSplitter
{
    private readonly KeyValuePair<string, int>[] _tokens;
    private readonly HashSet<char> _firstChars;

    public AddedTokenSplitter(IReadOnlyDictionary<string, int> addedTokens)
    {
        _tokens = addedTokens.Where(t => t.Key.Length > 0).OrderByDescending(t => t.Key.Length).ToArray();
        _firstChars = _tokens.Select(t => t.Key[0]).ToHashSet();
    }

    /// <summary>A piece of the prompt: either plain text to clean and BPE-encode, or an added token's id.</summary>
    public readonly record struct Piece(string? Text, int TokenId);

    /// <summary>The pieces of <paramref name="text"/> in order; empty text pieces are left out.</summary>
    public List<Piece> Split(string text)
    {
        var pieces = new List<Piece>();
        int textStart = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (!_firstChars.Contains(text[i])) continue;
            foreach ((string token, int id) in _tokens)
            {
                if (!text.AsSpan(i).StartsWith(token, StringComparison.Ordinal)) continue;
                if (i > textStart) pieces.Add(new Piece(text[textStart..i], 0));
                pieces.Add(new Piece(null, id));
                textStart = i + token.Length;
                i = textStart - 1;
                break;
            }
        }

        if (textStart < text.Length) pieces.Add(new Piece(text[textStart..], 0));
        return pieces;
    }
}
