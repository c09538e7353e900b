using System.Text.RegularExpressions;

namespace LcmLora.Hub;

/// <summary>
/// Downloads models from the Hugging Face Hub (or the server <c>HF_ENDPOINT</c> names) into the cache Python's
/// huggingface_hub uses, so a model fetched by either is found by both (docs/hub.md). Downloads are verified against
/// the hash the server announces, resumed after a dropped connection, locked against a concurrent download of the
/// same file, and never leave a short or corrupt file in <c>snapshots/</c>. With <see cref="HubOptions.Offline"/>
/// nothing is requested and only the cache is used.
/// </summary>
/// <remarks>
/// Written on <see cref="HttpClient"/>: no maintained .NET client of the Hub protocol is available. Thread-safe;
/// one instance may serve many downloads.
/// </remarks>
public sealed partial class HubModels : IDisposable
{
    private const string DefaultRevision = "main";
    private readonly HttpClient _client;
    private readonly HubHttp _http;
    private readonly HubCache _cache;
    private readonly BlobDownload _blobs;

    /// <summary>A client configured from the environment (<see cref="HubOptions.FromEnvironment"/>).</summary>
    public HubModels() : this(HubOptions.FromEnvironment()) { }

    /// <summary>A client with explicit options; <paramref name="handler"/> replaces the HTTP stack (it must not follow redirects itself).</summary>
    public HubModels(HubOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _client = HubHttp.CreateClient(handler);
        _http = new HubHttp(options, _client);
        _cache = new HubCache(options.CacheDirectory, options.UseSymlinks);
        _blobs = new BlobDownload(_http, _cache, options);
    }

    /// <summary>The options in use.</summary>
    public HubOptions Options { get; }

    [GeneratedRegex(@"^[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex RepoIdPattern();

    /// <summary>
    /// True when <paramref name="value"/> is shaped like a repo id <c>org/name</c> or a file in one
    /// (<c>org/name/path/file.safetensors</c>) and is not an existing local path.
    /// </summary>
    public static bool IsRepoReference(string value) => !File.Exists(value) && !Directory.Exists(value) && SplitReference(value) is not null;

    /// <summary>Downloads one file (or finds it in the cache); returns its path in <c>snapshots/{commit}/</c>.</summary>
    /// <param name="repoId">The repository, <c>org/name</c>.</param>
    /// <param name="path">The file's path in the repository, with '/' separators.</param>
    /// <param name="revision">A branch, tag or commit; default <c>main</c>.</param>
    /// <param name="progress">Receives bytes and totals as the file arrives.</param>
    /// <param name="cancellationToken">Stops the download; the bytes received are kept for the next call to resume.</param>
    /// <exception cref="HubException">The file could not be had: <see cref="HubException.Kind"/> says why, the message what to do.</exception>
    public Task<string> DownloadFileAsync(string repoId, string path, string? revision = null, IProgress<HubProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        CheckRepoId(repoId);
        if (string.IsNullOrEmpty(path) || path.StartsWith('/') || path.Split('/').Any(s => s is "" or "." or ".."))
            throw new ArgumentException($"'{path}' is not a file path inside a repository (use '/' separators, no '..').", nameof(path));
        return FileAsync(repoId, path, revision ?? DefaultRevision, progress, cancellationToken);
    }

    /// <summary>
    /// Downloads what a pipeline needs from a repository (or finds it in the cache) and returns the snapshot folder.
    /// A diffusers repo gets <c>model_index.json</c>, each component's configs and tokenizer files and one
    /// <c>.safetensors</c> weight variant: <paramref name="variant"/> (e.g. "fp16") where a component has it, else full
    /// precision. Another repo gets every file except pickle, ONNX and Flax weights.
    /// </summary>
    /// <exception cref="HubException">A file could not be had.</exception>
    public Task<string> DownloadSnapshotAsync(string repoId, string? revision = null, string? variant = null, IProgress<HubProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        CheckRepoId(repoId);
        return SnapshotAsync(repoId, revision ?? DefaultRevision, variant, progress, cancellationToken);
    }

    /// <summary>
    /// The local path of a model: <paramref name="reference"/> itself when it exists; for <c>org/name</c>, the snapshot
    /// folder of a diffusers repo (see <see cref="DownloadSnapshotAsync"/>) or the single top-level <c>.safetensors</c>
    /// file of a single-file repo; for <c>org/name/file.safetensors</c>, that file. Downloads what is missing.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither a local path nor a repo reference.</exception>
    /// <exception cref="HubException">The download failed.</exception>
    public async Task<string> ResolveModelAsync(string reference, string? variant = null, IProgress<HubProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (File.Exists(reference) || Directory.Exists(reference)) return reference;
        var (repoId, path) = SplitReference(reference) ?? throw NotFound(reference);
        if (path is not null) return await FileAsync(repoId, path, DefaultRevision, progress, cancellationToken).ConfigureAwait(false);
        var (commit, files, folder) = await ListAsync(repoId, DefaultRevision, cancellationToken).ConfigureAwait(false);
        if (files.Contains(PipelineFiles.ModelIndex))
            return folder ?? await SnapshotAsync(repoId, commit, files, variant, progress, cancellationToken).ConfigureAwait(false);
        var file = PickWeights(repoId, PipelineFiles.TopLevelSafetensors(files), preferred: null);
        return folder is not null ? Path.Combine(folder, file) : await FileAsync(repoId, file, commit, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The local path of a weights file such as a LoRA: <paramref name="reference"/> when it is a file; the one
    /// <c>.safetensors</c> file at the top of a folder or repo (<c>pytorch_lora_weights.safetensors</c> when there are
    /// several); for <c>org/name/file.safetensors</c>, that file. Downloads only that file.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither a local path nor a repo reference.</exception>
    /// <exception cref="HubException">No single weights file, or the download failed.</exception>
    public async Task<string> ResolveWeightsFileAsync(string reference, IProgress<HubProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (File.Exists(reference)) return reference;
        if (Directory.Exists(reference))
            return Path.Combine(reference, PickWeights(reference, PipelineFiles.TopLevelSafetensors(Directory.EnumerateFiles(reference).Select(Path.GetFileName)!), "pytorch_lora_weights.safetensors"));
        var (repoId, path) = SplitReference(reference) ?? throw NotFound(reference);
        if (path is not null) return await FileAsync(repoId, path, DefaultRevision, progress, cancellationToken).ConfigureAwait(false);
        var (commit, files, folder) = await ListAsync(repoId, DefaultRevision, cancellationToken).ConfigureAwait(false);
        var file = PickWeights(repoId, PipelineFiles.TopLevelSafetensors(files), "pytorch_lora_weights.safetensors");
        return folder is not null ? Path.Combine(folder, file) : await FileAsync(repoId, file, commit, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Releases the HTTP client.</summary>
    public void Dispose()
    {
        _client.Dispose();
    }

    private async Task<string> FileAsync(string repoId, string path, string revision, IProgress<HubProgress>? progress, CancellationToken ct)
    {
        if (Options.Offline) return Cached(repoId, revision, path, progress) ?? throw NotInCache(repoId, revision, path, "HF_HUB_OFFLINE is set");
        if (HubCache.IsCommit(revision) && Cached(repoId, revision, path, progress) is { } hit) return hit;
        HubFileMetadata meta;
        try
        {
            meta = await _http.FileMetadataAsync(repoId, revision, path, ct).ConfigureAwait(false);
        }
        catch (HubEntryNotFound e)
        {
            _cache.WriteRef(repoId, revision, e.Commit);
            _cache.MarkMissing(repoId, e.Commit, path);
            throw new HubException(HubErrorKind.EntryNotFound, e.Message);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.Network && Cached(repoId, revision, path, progress) is { } fallback)
        {
            return fallback; // as huggingface_hub: an unreachable server does not hide what is cached
        }
        _cache.WriteRef(repoId, revision, meta.Commit);
        if (Cached(repoId, meta.Commit, path, progress) is { } cached) return cached;
        var fetched = await _blobs.EnsureAsync(repoId, path, meta, progress, ct).ConfigureAwait(false);
        var file = _cache.Link(repoId, meta.Commit, path, meta.ETag);
        var size = HubCache.Length(file);
        progress?.Report(new(repoId, path, size, size, fetched ? HubFileStatus.Completed : HubFileStatus.Cached));
        return file;
    }

    private async Task<string> SnapshotAsync(string repoId, string revision, string? variant, IProgress<HubProgress>? progress, CancellationToken ct)
    {
        var (commit, files, folder) = await ListAsync(repoId, revision, ct).ConfigureAwait(false);
        return folder ?? await SnapshotAsync(repoId, commit, files, variant, progress, ct).ConfigureAwait(false);
    }

    private async Task<string> SnapshotAsync(string repoId, string commit, IReadOnlyList<string> files, string? variant, IProgress<HubProgress>? progress, CancellationToken ct)
    {
        IReadOnlyList<string> wanted;
        if (files.Contains(PipelineFiles.ModelIndex))
        {
            var index = await FileAsync(repoId, PipelineFiles.ModelIndex, commit, progress, ct).ConfigureAwait(false);
            IReadOnlySet<string> components;
            try { components = PipelineFiles.Components(await File.ReadAllTextAsync(index, ct).ConfigureAwait(false)); }
            catch (System.Text.Json.JsonException e) { throw new HubException(HubErrorKind.Protocol, $"{repoId}/{PipelineFiles.ModelIndex}: not valid JSON ({e.Message}).", e); }
            wanted = PipelineFiles.ForDiffusers(files, components, variant).Where(f => f != PipelineFiles.ModelIndex).ToList();
        }
        else wanted = PipelineFiles.ForOtherRepo(files);
        await Parallel.ForEachAsync(wanted, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Options.ParallelDownloads), CancellationToken = ct },
            async (file, token) => await FileAsync(repoId, file, commit, progress, token).ConfigureAwait(false)).ConfigureAwait(false);
        return _cache.SnapshotFolder(repoId, commit);
    }

    /// <summary>
    /// The commit and file list of a repo at a revision. Offline (or when the server cannot be reached and the
    /// revision is cached), the cached snapshot folder and the files in it instead.
    /// </summary>
    private async Task<(string Commit, IReadOnlyList<string> Files, string? CachedFolder)> ListAsync(string repoId, string revision, CancellationToken ct)
    {
        if (Options.Offline) return CachedListing(repoId, revision) ?? throw NotInCache(repoId, revision, null, "HF_HUB_OFFLINE is set");
        try
        {
            var info = await _http.RepoInfoAsync(repoId, revision, ct).ConfigureAwait(false);
            _cache.WriteRef(repoId, revision, info.Commit);
            return (info.Commit, info.Files, null);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.Network && CachedListing(repoId, revision) is { } cached)
        {
            return cached;
        }
    }

    private (string, IReadOnlyList<string>, string?)? CachedListing(string repoId, string revision)
    {
        if (_cache.CommitOf(repoId, revision) is not { } commit) return null;
        var folder = _cache.SnapshotFolder(repoId, commit);
        if (!Directory.Exists(folder)) return null;
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/')).ToList();
        return files.Count == 0 ? null : (commit, files, folder);
    }

    private string? Cached(string repoId, string revision, string path, IProgress<HubProgress>? progress)
    {
        if (_cache.CommitOf(repoId, revision) is not { } commit) return null;
        if (_cache.CachedFile(repoId, commit, path) is not { } file)
        {
            if (_cache.KnownMissing(repoId, commit, path))
                throw new HubException(HubErrorKind.EntryNotFound, $"{repoId}/{path}: no such file in {repoId} at revision {revision} (known from an earlier request).");
            return null;
        }
        var size = HubCache.Length(file);
        progress?.Report(new(repoId, path, size, size, HubFileStatus.Cached));
        return file;
    }

    private HubException NotInCache(string repoId, string revision, string? path, string why) => new(HubErrorKind.NotInCache,
        $"{repoId}{(path is null ? "" : "/" + path)} (revision {revision}) is not in the Hugging Face cache {Options.CacheDirectory}, and {why}. " +
        $"On a machine with network access run 'lcmlora download {repoId}{(path is null ? "" : " --file " + path)}' (or 'huggingface-cli download') " +
        "and copy its cache folder here, point HF_HUB_CACHE at a cache that holds it, or unset HF_HUB_OFFLINE.");

    private static string PickWeights(string where, IReadOnlyList<string> candidates, string? preferred) => candidates.Count switch
    {
        1 => candidates[0],
        0 => throw new HubException(HubErrorKind.EntryNotFound, $"{where}: no .safetensors file at the top level (and no model_index.json): name the file, e.g. {where}/path/model.safetensors."),
        _ when preferred is not null && candidates.Contains(preferred) => preferred,
        _ => throw new HubException(HubErrorKind.EntryNotFound, $"{where}: {candidates.Count} .safetensors files ({string.Join(", ", candidates)}): name one, e.g. {where}/{candidates[0]}."),
    };

    private static (string RepoId, string? Path)? SplitReference(string value)
    {
        if (value.Contains('\\') || value.Contains(':')) return null;
        var parts = value.Split('/');
        if (parts.Length < 2 || parts.Any(p => p is "" or "." or "..")) return null;
        var repoId = parts[0] + "/" + parts[1];
        if (!RepoIdPattern().IsMatch(repoId)) return null;
        return (repoId, parts.Length > 2 ? string.Join('/', parts[2..]) : null);
    }

    private static void CheckRepoId(string repoId)
    {
        if (repoId is null || !RepoIdPattern().IsMatch(repoId)) throw new ArgumentException($"'{repoId}' is not a Hub repo id (expected org/name).", nameof(repoId));
    }

    private static FileNotFoundException NotFound(string reference) =>
        new($"{reference}: no such file or folder, and not a Hugging Face repo id (org/name or org/name/file.safetensors).", reference);
}
