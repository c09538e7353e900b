using System.Text;
using System.Text.Json;

namespace LcmLora.Text;

/// <summary>A special token's text and id.</summary>
internal readonly record struct SpecialToken(string Content, int Id);

/// <summary>Everything a <see cref="ClipTokenizer"/> needs, read and cross-checked from a tokenizer folder.</summary>
internal sealed class ClipTokenizerDefinition
{
    public required Dictionary<string, int> Vocabulary { get; init; }
    public required List<string> Merges { get; init; }

    /// <summary>Tokens that transformers cuts out of the raw text before any clean-up (its "added tokens").</summary>
    public required Dictionary<string, int> AddedTokens { get; init; }

    /// <summary>Ids that <c>decode(skip_special_tokens=True)</c> drops.</summary>
    public required HashSet<int> SpecialTokenIds { get; init; }

    public required SpecialToken Bos { get; init; }
    public required SpecialToken Eos { get; init; }
    public required SpecialToken Pad { get; init; }
    public required SpecialToken Unknown { get; init; }
    public required int ModelMaxLength { get; init; }
    public required bool CleanUpTokenizationSpaces { get; init; }
}

/// <summary>
/// Reads a diffusers/transformers CLIP tokenizer folder (<c>vocab.json</c>, <c>merges.txt</c>,
/// <c>special_tokens_map.json</c>, <c>tokenizer_config.json</c>) the way transformers' slow
/// <c>CLIPTokenizer.from_pretrained</c> interprets it. Hand-written because Microsoft.ML.Tokenizers knows
/// nothing of these config files, and so that every failure names the file at fault.
/// </summary>
internal static class ClipTokenizerFiles
{
    public const string VocabFile = "vocab.json";
    public const string MergesFile = "merges.txt";
    public const string SpecialTokensMapFile = "special_tokens_map.json";
    public const string TokenizerConfigFile = "tokenizer_config.json";

    /// <summary>transformers reads only this many merges (49152 - 256 - 2): CLIP's vocabulary is 256 byte
    /// symbols, the same with <c>&lt;/w&gt;</c>, the merges, and two special tokens.</summary>
    public const int ClipMergeCount = 48894;

    /// <summary>CLIP's text encoder context length, used when the config gives no usable limit.</summary>
    public const int ClipContextLength = 77;

    private static readonly string[] SpecialTokenKeys = ["bos_token", "eos_token", "unk_token", "pad_token"];

    public static ClipTokenizerDefinition Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string dir = Path.GetFullPath(directory);
        if (!Directory.Exists(dir))
            throw new ClipTokenizerLoadException(dir, "the tokenizer folder does not exist.");

        string vocabPath = Path.Combine(dir, VocabFile);
        string configPath = Path.Combine(dir, TokenizerConfigFile);
        string mapPath = Path.Combine(dir, SpecialTokensMapFile);
        Dictionary<string, int> vocab = ReadVocabulary(vocabPath);
        List<string> merges = ReadMerges(Path.Combine(dir, MergesFile));
        JsonElement config = ReadJsonObject(configPath);
        JsonElement map = ReadJsonObject(mapPath);
        Dictionary<string, (int Id, bool Special)> added = ReadAddedTokens(configPath, config);

        // CLIPTokenizer's defaults, overridden by tokenizer_config.json, overridden by special_tokens_map.json
        // (transformers lets the map win over the config's init kwargs).
        var specials = new Dictionary<string, (string Content, string Source)>
        {
            ["bos_token"] = ("<|startoftext|>", vocabPath),
            ["eos_token"] = ("<|endoftext|>", vocabPath),
            ["unk_token"] = ("<|endoftext|>", vocabPath),
            ["pad_token"] = ("<|endoftext|>", vocabPath),
        };
        foreach ((string path, JsonElement json) in new[] { (configPath, config), (mapPath, map) })
            foreach (string key in SpecialTokenKeys)
                if (json.TryGetProperty(key, out JsonElement value) && value.ValueKind != JsonValueKind.Null)
                    specials[key] = (ReadTokenContent(path, key, value), path);

        SpecialToken Resolve(string key)
        {
            (string content, string source) = specials[key];
            if (added.TryGetValue(content, out var a)) return new SpecialToken(content, a.Id);
            if (vocab.TryGetValue(content, out int id)) return new SpecialToken(content, id);
            throw new ClipTokenizerLoadException(source,
                $"{key} '{content}' is neither in {VocabFile} nor in {TokenizerConfigFile}'s added_tokens_decoder.");
        }

        SpecialToken bos = Resolve("bos_token"), eos = Resolve("eos_token");
        SpecialToken unk = Resolve("unk_token"), pad = Resolve("pad_token");

        // transformers registers every special token as an added token, so the raw text is split on them too.
        var addedTokens = added.ToDictionary(kv => kv.Key, kv => kv.Value.Id, StringComparer.Ordinal);
        var specialIds = added.Where(kv => kv.Value.Special).Select(kv => kv.Value.Id).ToHashSet();
        foreach (SpecialToken s in new[] { bos, eos, unk, pad })
        {
            addedTokens.TryAdd(s.Content, s.Id);
            specialIds.Add(s.Id);
        }

        return new ClipTokenizerDefinition
        {
            Vocabulary = vocab,
            Merges = merges,
            AddedTokens = addedTokens,
            SpecialTokenIds = specialIds,
            Bos = bos,
            Eos = eos,
            Pad = pad,
            Unknown = unk,
            ModelMaxLength = ReadModelMaxLength(configPath, config),
            CleanUpTokenizationSpaces = ReadBool(configPath, config, "clean_up_tokenization_spaces", true),
        };
    }

    private static Dictionary<string, int> ReadVocabulary(string path)
    {
        JsonElement root = ReadJsonObject(path);
        var vocab = new Dictionary<string, int>(capacity: 50_000, StringComparer.Ordinal);
        foreach (JsonProperty entry in root.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new ClipTokenizerLoadException(path, $"token '{entry.Name}' has id {entry.Value}, expected a non-negative integer.");
            vocab[entry.Name] = id;
        }

        if (vocab.Count == 0) throw new ClipTokenizerLoadException(path, "the vocabulary is empty.");
        return vocab;
    }

    private static List<string> ReadMerges(string path)
    {
        string[] lines = ReadAllText(path).Split('\n');
        var merges = new List<string>(ClipMergeCount);
        for (int i = 0; i < lines.Length && merges.Count < ClipMergeCount; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || (i == 0 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new ClipTokenizerLoadException(path, $"line {i + 1} is not a merge of two symbols ('a b'): '{line}'.");
            merges.Add(parts[0] + " " + parts[1]);
        }

        if (merges.Count == 0) throw new ClipTokenizerLoadException(path, "the file holds no merges.");
        return merges;
    }

    private static Dictionary<string, (int Id, bool Special)> ReadAddedTokens(string path, JsonElement config)
    {
        var added = new Dictionary<string, (int, bool)>(StringComparer.Ordinal);
        if (!config.TryGetProperty("added_tokens_decoder", out JsonElement decoder) || decoder.ValueKind == JsonValueKind.Null)
            return added;
        if (decoder.ValueKind != JsonValueKind.Object)
            throw new ClipTokenizerLoadException(path, "added_tokens_decoder must be an object of id -> token.");
        foreach (JsonProperty entry in decoder.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, out int id) || id < 0)
                throw new ClipTokenizerLoadException(path, $"added_tokens_decoder key '{entry.Name}' is not a token id.");
            string content = ReadTokenContent(path, $"added_tokens_decoder[{entry.Name}]", entry.Value);
            bool special = entry.Value.ValueKind == JsonValueKind.Object && ReadBool(path, entry.Value, "special", false);
            added[content] = (id, special);
        }

        return added;
    }

    private static string ReadTokenContent(string path, string key, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String) return value.GetString()!;
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out JsonElement c)
            && c.ValueKind == JsonValueKind.String && c.GetString()!.Length > 0)
            return c.GetString()!;
        throw new ClipTokenizerLoadException(path, $"{key} must be a string or an object with a non-empty \"content\" string.");
    }

    private static int ReadModelMaxLength(string path, JsonElement config)
    {
        if (!config.TryGetProperty("model_max_length", out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            return ClipContextLength;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double length) || length < 2 || length != Math.Floor(length))
            throw new ClipTokenizerLoadException(path, $"model_max_length is {value}, expected an integer of at least 2.");
        // transformers writes 1e30 ("no limit") when a model has none; CLIP's position embeddings stop at 77.
        return length > int.MaxValue ? ClipContextLength : (int)length;
    }

    private static bool ReadBool(string path, JsonElement json, string key, bool fallback)
    {
        if (!json.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null) return fallback;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ClipTokenizerLoadException(path, $"{key} is {value}, expected true or false."),
        };
    }

    private static JsonElement ReadJsonObject(string path)
    {
        string text = ReadAllText(path);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ClipTokenizerLoadException(path, $"expected a JSON object at the top level, found {doc.RootElement.ValueKind}.");
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ClipTokenizerLoadException(path, $"the file is not valid JSON ({e.Message}).", e);
        }
    }

    private static string ReadAllText(string path)
    {
        if (!File.Exists(path))
            throw new ClipTokenizerLoadException(path,
                $"the file is missing; a tokenizer folder holds {VocabFile}, {MergesFile}, {SpecialTokensMapFile} and {TokenizerConfigFile}.");
        try
        {
            return File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClipTokenizerLoadException(path, $"the file cannot be read ({e.Message}).", e);
        }
    }
}
