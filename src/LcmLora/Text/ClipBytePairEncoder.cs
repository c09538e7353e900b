using System.Collections.Concurrent;
using Microsoft.ML.Tokenizers;

namespace LcmLora.Text;

/// <summary>
/// CLIP's byte-level BPE for one pre-tokenized word, done by Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>
/// configured as CLIP's: <see cref="BpeOptions.ByteLevel"/> maps the word's UTF-8 bytes through GPT-2's
/// <c>bytes_to_unicode</c> alphabet (the same table CLIP uses), and <see cref="BpeOptions.EndOfWordSuffix"/>
/// <c>&lt;/w&gt;</c> is glued to the word's last symbol before merging, exactly like CLIP's
/// <c>word = tuple(token[:-1]) + (token[-1] + "&lt;/w&gt;",)</c>. Merges are applied lowest rank first; since
/// every CLIP merge ranks after the merges that create its parts, this equals CLIP's "merge every occurrence
/// of the best pair" loop. No merge code is written here.
/// </summary>
/// <remarks>
/// Words are encoded one at a time with the library's own pre-tokenization and normalization off, because
/// CLIP's clean-up and split (<see cref="ClipTextCleaner"/>, <see cref="ClipPreTokenizer"/>) must run first.
/// Results are cached per word like CLIP's <c>self.cache</c> (the library's own cache skips words longer than
/// 15 byte symbols); the cache stops growing at <see cref="MaxCachedWords"/> entries. Thread-safe.
/// </remarks>
internal sealed class ClipBytePairEncoder
{
    /// <summary>Upper bound on cached words, so a long-running process cannot grow without limit.</summary>
    public const int MaxCachedWords = 100_000;

    /// <summary>CLIP seeds its BPE cache with these words, so they map straight to their own ids.</summary>
    private static readonly string[] WholeWords = ["<|startoftext|>", "<|endoftext|>"];

    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int[]> _wholeWords = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cachedWords; // ConcurrentDictionary.Count takes every lock; keep our own count

    /// <exception cref="InvalidOperationException">A merge names a symbol, or makes a token, that the
    /// vocabulary lacks (thrown by <see cref="BpeTokenizer.Create(BpeOptions)"/>).</exception>
    public ClipBytePairEncoder(Dictionary<string, int> vocabulary, IReadOnlyList<string> merges, SpecialToken unknown)
    {
        _bpe = BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            EndOfWordSuffix = "</w>",
            UnknownToken = vocabulary.ContainsKey(unknown.Content) ? unknown.Content : null,
        });
        foreach (string word in WholeWords)
            _wholeWords[word] = [vocabulary.TryGetValue(word, out int id) ? id : unknown.Id];
    }

    /// <summary>The ids of one word (a match of CLIP's split pattern), ending in a <c>&lt;/w&gt;</c> token.
    /// The array may be the cached one: callers must not modify it.</summary>
    public int[] EncodeWord(string word)
    {
        if (_wholeWords.TryGetValue(word, out int[]? ids) || _cache.TryGetValue(word, out ids)) return ids;
        ids = [.. _bpe.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false)];
        if (Volatile.Read(ref _cachedWords) < MaxCachedWords && _cache.TryAdd(word, ids))
            Interlocked.Increment(ref _cachedWords);
        return ids;
    }

    /// <summary>How many words are cached (for tests).</summary>
    internal int CachedWordCount => Volatile.Read(ref _cachedWords);
}
