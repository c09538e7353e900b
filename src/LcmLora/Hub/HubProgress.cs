namespace LcmLora.Hub;

/// <summary>What happened to a file.</summary>
public enum HubFileStatus
{
    /// <summary>Bytes are arriving (<see cref="HubProgress.BytesDone"/> grows).</summary>
    Downloading,

    /// <summary>Another process holds the file's lock and is downloading it; this one waits.</summary>
    Waiting,

    /// <summary>Downloaded, verified and in the cache.</summary>
    Completed,

    /// <summary>Already in the cache: no bytes were downloaded.</summary>
    Cached,
}

/// <summary>Progress of one file of a download.</summary>
/// <param name="RepoId">The repository, <c>org/name</c>.</param>
/// <param name="File">The file's path inside the repository.</param>
/// <param name="BytesDone">Bytes in the cache so far (a resumed download starts at the bytes kept from before).</param>
/// <param name="TotalBytes">The file's size, when the server told it.</param>
/// <param name="Status">What is happening.</param>
public readonly record struct HubProgress(string RepoId, string File, long BytesDone, long? TotalBytes, HubFileStatus Status);
