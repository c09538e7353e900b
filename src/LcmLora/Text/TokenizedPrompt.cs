namespace LcmLora.Text;

/// <summary>
/// One fixed-length row of token ids for a CLIP text encoder, as diffusers gets it from
/// <c>tokenizer(prompt, padding="max_length", max_length=77, truncation=True)</c>: the begin-of-text id, the
/// prompt's tokens, the end-of-text id, then the pad id up to <see cref="Length"/>.
/// </summary>
public sealed class TokenizedPrompt
{
    private readonly int[] _ids;
    private readonly int[] _attentionMask;
    private readonly int[] _droppedTokenIds;

    internal TokenizedPrompt(int[] ids, int tokenCount, int[] droppedTokenIds)
    {
        _ids = ids;
        TokenCount = tokenCount;
        _droppedTokenIds = droppedTokenIds;
        _attentionMask = new int[ids.Length];
        Array.Fill(_attentionMask, 1, 0, tokenCount);
    }

    /// <summary>The ids, exactly <see cref="Length"/> of them (<c>input_ids</c>).</summary>
    public IReadOnlyList<int> Ids => _ids;

    /// <summary>1 for the first <see cref="TokenCount"/> positions, 0 for padding (<c>attention_mask</c>).
    /// SDXL's text encoders are run without it; it is here for completeness.</summary>
    public IReadOnlyList<int> AttentionMask => _attentionMask;

    /// <summary>The row length (the <c>max_length</c> it was padded to).</summary>
    public int Length => _ids.Length;

    /// <summary>How many leading ids are real tokens, begin- and end-of-text included; the rest is padding.</summary>
    public int TokenCount { get; }

    /// <summary>True when the prompt was too long and tokens were cut off (diffusers logs a warning then).</summary>
    public bool Truncated => _droppedTokenIds.Length > 0;

    /// <summary>The prompt tokens that did not fit, in order; decode them to tell the user what was ignored.</summary>
    public IReadOnlyList<int> DroppedTokenIds => _droppedTokenIds;

    /// <summary>The ids as 64-bit integers, the element type CLIP text encoders take.</summary>
    public long[] ToInt64Array() => Array.ConvertAll(_ids, id => (long)id);
}
