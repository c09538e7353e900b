namespace LcmLora.Hub;

/// <summary>Why a Hub download failed.</summary>
public enum HubErrorKind
{
    /// <summary>The repository does not exist, or is private and no (valid) token was sent.</summary>
    RepositoryNotFound,

    /// <summary>The branch, tag or commit does not exist in the repository.</summary>
    RevisionNotFound,

    /// <summary>The file does not exist at that revision.</summary>
    EntryNotFound,

    /// <summary>A gated repository: its licence must be accepted on the model page and a token set.</summary>
    Gated,

    /// <summary>The server refused the request or the token (401/403 that is not a gated repo).</summary>
    AccessDenied,

    /// <summary>Offline mode (or an unreachable server) and the file is not in the cache.</summary>
    NotInCache,

    /// <summary>The server could not be reached, the connection dropped, or it answered with a server error.</summary>
    Network,

    /// <summary>The bytes received do not match the size or hash the server announced; nothing was stored.</summary>
    Corrupt,

    /// <summary>The cache could not be written (disk full, permissions).</summary>
    Storage,

    /// <summary>The server's answer does not follow the Hub protocol (a missing commit or ETag header).</summary>
    Protocol,
}

/// <summary>A Hub download or cache lookup that failed; the message says what and what to do.</summary>
public sealed class HubException : Exception
{
    /// <summary>Creates the exception.</summary>
    public HubException(HubErrorKind kind, string message, Exception? inner = null) : base(message, inner) => Kind = kind;

    /// <summary>Why it failed.</summary>
    public HubErrorKind Kind { get; }

    /// <summary>True when the user's input or setup is at fault (a name, a revision, a token, offline mode), not the network or the disk.</summary>
    public bool IsInputError => Kind is HubErrorKind.RepositoryNotFound or HubErrorKind.RevisionNotFound or HubErrorKind.EntryNotFound
        or HubErrorKind.Gated or HubErrorKind.AccessDenied or HubErrorKind.NotInCache;
}
