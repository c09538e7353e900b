using System.Net;

namespace LcmLora.Hub;

/// <summary>
/// Downloads one blob safely: under an exclusive lock on <c>.locks/.../{etag}.lock</c> (the file huggingface_hub's
/// <c>filelock</c> takes, so a Python and a .NET writer never race), into <c>blobs/{etag}.incomplete</c>, resumed from
/// its current length with an HTTP Range request (within a call after a dropped connection, and by the next call
/// after a failed one), and renamed to <c>blobs/{etag}</c> only when size and hash match the ETag. A corrupt body is
/// deleted, never stored.
/// </summary>
internal sealed class BlobDownload(HubHttp http, HubCache cache, HubOptions options)
{
    private const int BufferSize = 1 << 20;
    private static readonly TimeSpan LockPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>Makes <c>blobs/{etag}</c> exist with the right content; returns false when it was already there (no bytes fetched).</summary>
    public async Task<bool> EnsureAsync(string repoId, string path, HubFileMetadata meta, IProgress<HubProgress>? progress, CancellationToken ct)
    {
        var blob = cache.Blob(repoId, meta.ETag);
        if (File.Exists(blob)) return false;
        using var fileLock = await LockAsync(cache.LockFile(repoId, meta.ETag), () => progress?.Report(new(repoId, path, 0, meta.Size, HubFileStatus.Waiting)), ct)
            .ConfigureAwait(false);
        if (File.Exists(blob)) return false; // another process finished it while we waited
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        var incomplete = blob + ".incomplete";
        await DownloadAsync(repoId, path, meta, incomplete, progress, ct).ConfigureAwait(false);
        Storage(() => File.Move(incomplete, blob), blob);
        return true;
    }

    private async Task DownloadAsync(string repoId, string path, HubFileMetadata meta, string incomplete, IProgress<HubProgress>? progress, CancellationToken ct)
    {
        var what = $"{repoId}/{path}";
        await using var file = Storage(() => new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.SequentialScan), incomplete);
        if (meta.Size is { } expected && file.Length > expected) file.SetLength(0);
        using var hash = meta.Size is { } known ? ContentHash.For(meta.ETag, known) : null;
        var buffer = new byte[BufferSize];
        // Bytes kept from an earlier, interrupted call count towards the hash.
        for (int n; (n = await file.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0;) hash?.Append(buffer.AsSpan(0, n));
        var retries = 0;
        while (meta.Size is not { } size || file.Length < size)
        {
            progress?.Report(new(repoId, path, file.Length, meta.Size, HubFileStatus.Downloading));
            try
            {
                if (await ReceiveAsync(file, hash, buffer, repoId, path, meta, progress, ct).ConfigureAwait(false)) break;
            }
            catch (Exception e) when (e is IOException or HttpRequestException or HubException { Kind: HubErrorKind.Network } && !ct.IsCancellationRequested)
            {
                if (retries++ >= options.MaxRetries)
                    throw new HubException(HubErrorKind.Network, $"{what}: the connection dropped after {file.Length:N0} of {meta.Size?.ToString("N0") ?? "?"} bytes " +
                        $"({retries} attempts: {e.Message}). The bytes received are kept in {incomplete}; run the command again to resume.", e);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200 * retries), ct).ConfigureAwait(false);
        }
        await file.FlushAsync(ct).ConfigureAwait(false);
        Verify(file, hash, meta, what, incomplete);
    }

    /// <summary>One GET from the current length; returns true when the body was read to its end.</summary>
    private async Task<bool> ReceiveAsync(FileStream file, ContentHash? hash, byte[] buffer, string repoId, string path, HubFileMetadata meta,
        IProgress<HubProgress>? progress, CancellationToken ct)
    {
        using var response = await http.GetAsync(meta.Location, file.Length, repoId, path, ct).ConfigureAwait(false);
        if (file.Length > 0 && response.StatusCode != HttpStatusCode.PartialContent)
        {
            // The server ignored the Range and sends the whole file: start over rather than append it to what is there.
            file.SetLength(0);
            hash?.Restart();
        }
        else if (file.Length > 0 && response.Content.Headers.ContentRange is { From: { } from } && from != file.Length)
            throw new HubException(HubErrorKind.Protocol, $"{repoId}/{path}: asked for bytes from {file.Length} and the server sent them from {from}.");
        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        file.Seek(0, SeekOrigin.End);
        var lastReport = Environment.TickCount64;
        for (int n; (n = await body.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0;)
        {
            try
            {
                await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw StorageError(e, file.Name);
            }
            hash?.Append(buffer.AsSpan(0, n));
            if (Environment.TickCount64 - lastReport >= 100)
            {
                progress?.Report(new(repoId, path, file.Length, meta.Size, HubFileStatus.Downloading));
                lastReport = Environment.TickCount64;
            }
        }
        // A server that closes cleanly before the announced size gives a short body: resume it like a dropped connection.
        if (meta.Size is { } size && file.Length < size) throw new IOException($"the server closed the connection at byte {file.Length:N0}");
        return true;
    }

    private static void Verify(FileStream file, ContentHash? hash, HubFileMetadata meta, string what, string incomplete)
    {
        string? problem = null;
        if (meta.Size is { } size && file.Length != size) problem = $"{file.Length:N0} bytes arrived, {size:N0} were announced";
        else if (hash is not null && !hash.Matches(out var actual)) problem = $"the {hash.Name} is {actual}, the server announced {meta.ETag}";
        if (problem is null) return;
        file.SetLength(0);
        file.Dispose();
        File.Delete(incomplete);
        throw new HubException(HubErrorKind.Corrupt, $"{what}: the download is corrupt ({problem}); it was deleted and nothing was stored. Run the command again; " +
            "if it happens again the server or a proxy is altering the file.");
    }

    private static async Task<FileStream> LockAsync(string path, Action onWait, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var waited = false;
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive flock on Unix and a sharing lock on Windows: what Python's filelock takes.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException) && !IsDiskFull(e))
            {
                if (!waited) onWait();
                waited = true;
                await Task.Delay(LockPoll, ct).ConfigureAwait(false);
            }
        }
    }

    private static T Storage<T>(Func<T> action, string path)
    {
        try { return action(); }
        catch (IOException e) when (e is not FileNotFoundException) { throw StorageError(e, path); }
        catch (UnauthorizedAccessException e) { throw StorageError(e, path); }
    }

    private static void Storage(Action action, string path) => Storage(() => { action(); return 0; }, path);

    private static HubException StorageError(Exception e, string path) => new(HubErrorKind.Storage,
        IsDiskFull(e)
            ? $"{path}: the disk is full ({e.Message}). Free space or point HF_HUB_CACHE at a larger disk; the partial file is kept and the next run resumes it."
            : $"{path}: cannot write the cache ({e.Message}). Check the permissions of HF_HUB_CACHE ({Path.GetDirectoryName(path)}).", e);

    private static bool IsDiskFull(Exception e) => (e.HResult & 0xFFFF) is 28 or 39 or 112; // ENOSPC, ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL
}
