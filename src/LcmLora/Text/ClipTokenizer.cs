namespace LcmLora.Text;

/// <summary>
/// The CLIP BPE tokenizer of Stable Diffusion XL's text encoders, loaded from a diffusers tokenizer folder
/// (<c>tokenizer</c> or <c>tokenizer_2</c>) and giving the same ids as the slow transformers
/// <c>CLIPTokenizer</c> that diffusers uses, in an environment without ftfy.
/// </summary>
/// <remarks>
/// <para>Encoding runs transformers' steps in order: cut the raw text at added tokens
/// (<c>AddedTokenSplitter</c>), clean each piece (<c>ClipTextCleaner</c>: control characters out,
/// whitespace collapsed, CJK ideographs spaced, NFC, lower case), split it with CLIP's pattern
/// (<c>ClipPreTokenizer</c>), and byte-level BPE each word with Microsoft.ML.Tokenizers
/// (<c>ClipBytePairEncoder</c>).</para>
/// <para>SDXL's two tokenizers share vocabulary and merges but differ in padding: <c>tokenizer</c> pads with
/// <c>&lt;|endoftext|&gt;</c> (49407), <c>tokenizer_2</c> with <c>!</c> (0). Because transformers registers
/// the pad token as an added token, <c>tokenizer_2</c> also encodes every literal <c>!</c> in a prompt as id 0,
/// so the two disagree on prompts containing <c>!</c>; this class reproduces that.</para>
/// <para>Instances are immutable apart from a per-word cache and are safe to share between threads.</para>
/// </remarks>
public sealed class ClipTokenizer
{
    private readonly ClipTokenizerDefinition _definition;
    private readonly AddedTokenSplitter _splitter;
    private readonly ClipBytePairEncoder _bpe;
    private readonly ClipTokenDecoder _decoder;

    private ClipTokenizer(ClipTokenizerDefinition definition, ClipBytePairEncoder bpe)
    {
        _definition = definition;
        _bpe = bpe;
        _splitter = new AddedTokenSplitter(definition.AddedTokens);
        _decoder = new ClipTokenDecoder(definition);
    }

    /// <summary>
    /// Loads a tokenizer folder holding <c>vocab.json</c>, <c>merges.txt</c>, <c>special_tokens_map.json</c>
    /// and <c>tokenizer_config.json</c>, as diffusers writes them.
    /// </summary>
    /// <param name="directory">The folder, e.g. <c>.../stable-diffusion-xl-base-1.0/tokenizer_2</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="ClipTokenizerLoadException">The folder or a file is missing, unreadable or malformed, or
    /// the files disagree; <see cref="ClipTokenizerLoadException.FilePath"/> names the file at fault.</exception>
    public static ClipTokenizer FromFolder(string directory)
    {
        ClipTokenizerDefinition definition = ClipTokenizerFiles.Load(directory);
        try
        {
            return new ClipTokenizer(definition, new ClipBytePairEncoder(definition.Vocabulary, definition.Merges, definition.Unknown));
        }
        catch (InvalidOperationException e)
        {
            string merges = Path.Combine(Path.GetFullPath(directory), ClipTokenizerFiles.MergesFile);
            throw new ClipTokenizerLoadException(merges, $"the merges do not fit {ClipTokenizerFiles.VocabFile}: {e.Message}", e);
        }
    }

    /// <summary>The begin-of-text id (<c>&lt;|startoftext|&gt;</c>, 49406 for SDXL).</summary>
    public int BosTokenId => _definition.Bos.Id;

    /// <summary>The end-of-text id (<c>&lt;|endoftext|&gt;</c>, 49407 for SDXL).</summary>
    public int EosTokenId => _definition.Eos.Id;

    /// <summary>The padding id: 49407 for SDXL's <c>tokenizer</c>, 0 (<c>!</c>) for <c>tokenizer_2</c>.</summary>
    public int PadTokenId => _definition.Pad.Id;

    /// <summary>The padding token's text.</summary>
    public string PadToken => _definition.Pad.Content;

    /// <summary>The row length the text encoder takes (<c>model_max_length</c>, 77 for CLIP).</summary>
    public int ModelMaxLength => _definition.ModelMaxLength;

    /// <summary>The number of entries in <c>vocab.json</c> (49408 for CLIP).</summary>
    public int VocabularySize => _definition.Vocabulary.Count;

    /// <summary>
    /// The prompt's tokens as vocabulary strings, without begin/end-of-text, like transformers'
    /// <c>tokenize()</c> (byte-level symbols, so "é" shows as "Ã©"); for inspecting prompts.
    /// </summary>
    public IReadOnlyList<string> Tokenize(string text) => EncodeContent(text).ConvertAll(_decoder.TokenOf);

    /// <summary>
    /// The prompt's ids with begin- and end-of-text and neither padding nor truncation, as
    /// <c>tokenizer(prompt, padding=False, truncation=False)</c>; may be longer than <see cref="ModelMaxLength"/>.
    /// </summary>
    public IReadOnlyList<int> Encode(string text)
    {
        List<int> content = EncodeContent(text);
        var ids = new int[content.Count + 2];
        ids[0] = BosTokenId;
        content.CopyTo(ids, 1);
        ids[^1] = EosTokenId;
        return ids;
    }

    /// <summary>
    /// The prompt as diffusers feeds it to a text encoder:
    /// <c>tokenizer(prompt, padding="max_length", max_length=maxLength, truncation=True)</c>. A prompt longer
    /// than <paramref name="maxLength"/> - 2 tokens keeps its first tokens, still ends with end-of-text, and is
    /// flagged <see cref="TokenizedPrompt.Truncated"/>.
    /// </summary>
    /// <param name="text">The prompt.</param>
    /// <param name="maxLength">The row length; <see cref="ModelMaxLength"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is less than 3.</exception>
    public TokenizedPrompt EncodePadded(string text, int? maxLength = null)
    {
        int length = CheckLength(maxLength);
        List<int> content = EncodeContent(text);
        int kept = Math.Min(content.Count, length - 2);
        return Row(content, 0, kept, length, content.GetRange(kept, content.Count - kept).ToArray());
    }

    /// <summary>
    /// The whole prompt in rows of <paramref name="maxLength"/>: its tokens are cut into chunks of
    /// <paramref name="maxLength"/> - 2 (75 for CLIP), each wrapped in begin/end-of-text and padded, so nothing is
    /// truncated. Text encoders can encode the rows separately and concatenate the results, the usual way to
    /// support long prompts. An empty prompt gives one row.
    /// </summary>
    /// <param name="text">The prompt.</param>
    /// <param name="maxLength">The row length; <see cref="ModelMaxLength"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is less than 3.</exception>
    public IReadOnlyList<TokenizedPrompt> EncodeChunked(string text, int? maxLength = null)
    {
        int length = CheckLength(maxLength);
        List<int> content = EncodeContent(text);
        int chunk = length - 2;
        var rows = new List<TokenizedPrompt>();
        for (int start = 0; start < content.Count || rows.Count == 0; start += chunk)
            rows.Add(Row(content, start, Math.Min(chunk, content.Count - start), length, []));
        return rows;
    }

    /// <summary>
    /// Turns ids back into text like transformers' <c>decode</c> with <c>clean_up_tokenization_spaces</c> from
    /// the config. Lossy: the text comes back cleaned and lower-cased, words split by the tokenizer come back
    /// space-separated ("8k" decodes as "8 k").
    /// </summary>
    /// <param name="ids">The ids.</param>
    /// <param name="skipSpecialTokens">Leave out begin/end-of-text, padding and other special tokens (note that
    /// for <c>tokenizer_2</c> this includes <c>!</c>, its pad token), like <c>skip_special_tokens=True</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary.</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return _decoder.Decode(ids, skipSpecialTokens);
    }

    private List<int> EncodeContent(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (AddedTokenSplitter.Piece piece in _splitter.Split(text))
        {
            if (piece.Text is null)
            {
                ids.Add(piece.TokenId);
                continue;
            }

            foreach (string word in ClipPreTokenizer.Split(ClipTextCleaner.Clean(piece.Text)))
                ids.AddRange(_bpe.EncodeWord(word));
        }

        return ids;
    }

    private int CheckLength(int? maxLength)
    {
        int length = maxLength ?? ModelMaxLength;
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 3, nameof(maxLength));
        return length;
    }

    private TokenizedPrompt Row(List<int> content, int start, int count, int length, int[] dropped)
    {
        var ids = new int[length];
        Array.Fill(ids, PadTokenId);
        ids[0] = BosTokenId;
        content.CopyTo(start, ids, 1, count);
        ids[count + 1] = EosTokenId;
        return new TokenizedPrompt(ids, count + 2, dropped);
    }
}
