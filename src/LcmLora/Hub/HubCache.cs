using System.Text;
using System.Text.RegularExpressions;

namespace LcmLora.Hub;

/// <summary>
/// The cache layout huggingface_hub reads and writes (docs/hub.md): <c>models--{org}--{name}/</c> with
/// <c>refs/{revision}</c> (the commit, 40 characters, no newline), <c>blobs/{etag}</c> (content named by its hash) and
/// <c>snapshots/{commit}/{path}</c> (relative symlinks to the blobs; copies where the OS refuses links), plus
/// <c>.locks/models--{org}--{name}/{etag}.lock</c> and <c>.no_exist/{commit}/{path}</c> markers.
/// </summary>
internal sealed partial class HubCache(string root, bool symlinks = true)
{
    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    public string Root { get; } = root;

    /// <summary>The length of a file, through a symlink (<see cref="FileInfo.Length"/> gives the link's own length).</summary>
    public static long Length(string path)
    {
        using var handle = File.OpenHandle(path);
        return RandomAccess.GetLength(handle);
    }

    public static bool IsCommit(string revision) => CommitPattern().IsMatch(revision);

    public static string FolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    public string RepoFolder(string repoId) => Path.Combine(Root, FolderName(repoId));

    public string SnapshotFolder(string repoId, string commit) => Path.Combine(RepoFolder(repoId), "snapshots", commit);

    public string SnapshotFile(string repoId, string commit, string path) => Path.Combine(SnapshotFolder(repoId, commit), ToLocal(path));

    public string Blob(string repoId, string etag) => Path.Combine(RepoFolder(repoId), "blobs", etag);

    public string LockFile(string repoId, string etag) => Path.Combine(Root, ".locks", FolderName(repoId), etag + ".lock");

    private string NoExistFile(string repoId, string commit, string path) => Path.Combine(RepoFolder(repoId), ".no_exist", commit, ToLocal(path));

    private string RefFile(string repoId, string revision) => Path.Combine(RepoFolder(repoId), "refs", ToLocal(revision));

    private static string ToLocal(string repoPath) => repoPath.Replace('/', Path.DirectorySeparatorChar);

    /// <summary>The commit a revision names: itself when it is one, else <c>refs/{revision}</c>, else null.</summary>
    public string? CommitOf(string repoId, string revision)
    {
        if (IsCommit(revision)) return revision;
        var file = RefFile(repoId, revision);
        if (!File.Exists(file)) return null;
        var text = File.ReadAllText(file).Trim();
        return IsCommit(text) ? text : null;
    }

    /// <summary>Writes <c>refs/{revision}</c> = commit, atomically, as exactly 40 ASCII characters (Python reads it verbatim).</summary>
    public void WriteRef(string repoId, string revision, string commit)
    {
        if (IsCommit(revision) || CommitOf(repoId, revision) == commit) return;
        var file = RefFile(repoId, revision);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var temp = $"{file}.{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(temp, Encoding.ASCII.GetBytes(commit));
        File.Move(temp, file, overwrite: true);
    }

    /// <summary>The cached file of <paramref name="path"/> at <paramref name="commit"/>, when present (a dangling link is not).</summary>
    public string? CachedFile(string repoId, string commit, string path)
    {
        var file = SnapshotFile(repoId, commit, path);
        return File.Exists(file) ? file : null;
    }

    /// <summary>True when an earlier request learnt that <paramref name="path"/> does not exist at <paramref name="commit"/>.</summary>
    public bool KnownMissing(string repoId, string commit, string path) => File.Exists(NoExistFile(repoId, commit, path));

    /// <summary>Records that <paramref name="path"/> does not exist at <paramref name="commit"/> (what huggingface_hub does on a 404).</summary>
    public void MarkMissing(string repoId, string commit, string path)
    {
        var file = NoExistFile(repoId, commit, path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        using (File.Create(file)) { }
    }

    /// <summary>
    /// Makes <c>snapshots/{commit}/{path}</c> point at the blob: a relative symlink, replaced atomically; a copy of the
    /// blob where symbolic links cannot be created (Windows without the privilege) or are turned off (<c>HF_HUB_DISABLE_SYMLINKS</c>).
    /// </summary>
    public string Link(string repoId, string commit, string path, string etag)
    {
        var target = SnapshotFile(repoId, commit, path);
        var dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        var blob = Blob(repoId, etag);
        var temp = Path.Combine(dir, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            if (symlinks) File.CreateSymbolicLink(temp, Path.GetRelativePath(dir, blob));
            else File.Copy(blob, temp, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, temp, overwrite: true);
        }
        File.Move(temp, target, overwrite: true);
        return target;
    }
}
