namespace LcmLora.Hub;

/// <summary>
/// Where <see cref="HubModels"/> downloads from and caches to, read from the same environment variables as Python's
/// huggingface_hub (<see cref="FromEnvironment"/>), so both share one cache.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The public Hugging Face Hub.</summary>
    public static readonly Uri DefaultEndpoint = new("https://huggingface.co");

    /// <summary>The server (<c>HF_ENDPOINT</c>). The token is sent to this origin only.</summary>
    public Uri Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>The hub cache folder (<c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>).</summary>
    public string CacheDirectory { get; init; } = HubEnvironment.CacheDirectory();

    /// <summary>Access token for gated or private repos (<c>HF_TOKEN</c>, else the token file); null for anonymous.</summary>
    public string? Token { get; init; }

    /// <summary>Serve from the cache only and never open a connection (<c>HF_HUB_OFFLINE=1</c>).</summary>
    public bool Offline { get; init; }

    /// <summary>
    /// Snapshot entries are relative symlinks into <c>blobs/</c> (shared by every revision, as huggingface_hub makes
    /// them); false makes copies (<c>HF_HUB_DISABLE_SYMLINKS=1</c>). Copies are made anyway where links cannot be.
    /// </summary>
    public bool UseSymlinks { get; init; } = true;

    /// <summary>Timeout of metadata requests (<c>HF_HUB_ETAG_TIMEOUT</c>, default 10 s).</summary>
    public TimeSpan MetadataTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a dropped download is resumed (with an HTTP Range request) within one call.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>Files downloaded at the same time in a snapshot.</summary>
    public int ParallelDownloads { get; init; } = 4;

    /// <summary>Options from <c>HF_ENDPOINT</c>, <c>HF_HUB_CACHE</c>/<c>HF_HOME</c>, <c>HF_TOKEN</c>/token file and <c>HF_HUB_OFFLINE</c>.</summary>
    public static HubOptions FromEnvironment() => new()
    {
        Endpoint = HubEnvironment.Endpoint(),
        CacheDirectory = HubEnvironment.CacheDirectory(),
        Token = HubEnvironment.Token(),
        Offline = HubEnvironment.Offline(),
        UseSymlinks = !HubEnvironment.IsTrue("HF_HUB_DISABLE_SYMLINKS"),
        MetadataTimeout = HubEnvironment.Seconds("HF_HUB_ETAG_TIMEOUT") ?? TimeSpan.FromSeconds(10),
    };
}
