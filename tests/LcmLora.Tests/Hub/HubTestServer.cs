using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace LcmLora.Tests.Hub;

/// <summary>
/// An in-process Hugging Face Hub on 127.0.0.1 that answers as ../shared/docs/hub-protocol.md describes: the model
/// info API, <c>HEAD/GET /{repo}/resolve/{revision}/{path}</c> (LFS files: a 302 to a CDN on a second port, another
/// origin, with X-Linked-Etag = sha256 and X-Linked-Size; plain files: a 307 to <c>/api/resolve-cache/...</c> that
/// answers ETag = git blob sha1), Range requests (206), X-Error-Code errors, gated repos and a token. Faults for
/// tests: a dropped connection after N bytes, a corrupted body, a slow body. Every request is logged.
/// </summary>
public sealed class HubTestServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, Repo> _repos = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <summary>One request as the server saw it.</summary>
    public sealed record Request(string Method, string Path, bool ToCdn, string? Range, bool HasAuthorization, int Status);

    private sealed class Repo(string commit, Dictionary<string, byte[]> files, bool gated)
    {
        public string Commit { get; } = commit;
        public Dictionary<string, byte[]> Files { get; } = files;
        public bool Gated { get; } = gated;
    }

    // Fixture bytes and hashes, computed once per test run (each test starts its own server).
    private static readonly ConcurrentDictionary<string, byte[]> FileCache = new();
    private static readonly ConcurrentDictionary<byte[], (string Sha256, string GitSha1)> HashCache = new(ReferenceEqualityComparer.Instance);

    private static (string Sha256, string GitSha1) Hashes(byte[] content) =>
        HashCache.GetOrAdd(content, c => (Convert.ToHexString(SHA256.HashData(c)).ToLowerInvariant(),
            Convert.ToHexString(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {c.Length}\0"), .. c])).ToLowerInvariant()));

    /// <summary>Starts listening on two free loopback ports (the Hub and its CDN).</summary>
    public HubTestServer()
    {
        HubPort = FreePort();
        CdnPort = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{HubPort}/");
        _listener.Prefixes.Add($"http://127.0.0.1:{CdnPort}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The Hub's port.</summary>
    public int HubPort { get; }

    /// <summary>The CDN's port (LFS downloads are redirected there).</summary>
    public int CdnPort { get; }

    /// <summary>The value for HF_ENDPOINT.</summary>
    public Uri Endpoint => new($"http://127.0.0.1:{HubPort}");

    /// <summary>The token gated repos accept; any other token is refused.</summary>
    public string Token { get; set; } = "hf_test_token";

    /// <summary>Every request so far.</summary>
    public ConcurrentQueue<Request> Log { get; } = new();

    /// <summary>Per file path: close the connection after this many bytes of its body, for the next N GETs (count in the value).</summary>
    public ConcurrentDictionary<string, (long AfterBytes, int Times)> DropAfter { get; } = new();

    /// <summary>File paths whose body is sent with one byte changed (same length).</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();

    /// <summary>Pause after each 64 KiB of a body (to make downloads overlap).</summary>
    public TimeSpan ChunkDelay { get; set; }

    /// <summary>Adds a repo with the files of a folder (paths relative to it, '/' separated) and extra files.</summary>
    public string AddRepo(string repoId, string? folder, IReadOnlyDictionary<string, byte[]>? extra = null, bool gated = false)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (folder is not null)
            foreach (var f in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
                files[Path.GetRelativePath(folder, f).Replace('\\', '/')] = FileCache.GetOrAdd(Path.GetFullPath(f), File.ReadAllBytes);
        foreach (var (k, v) in extra ?? new Dictionary<string, byte[]>()) files[k] = v;
        // A fake commit: the sha1 of the file list and the blob ids (as the protocol document's simulator does).
        var listing = string.Join("\n", files.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + " " + ETag(f.Key, f.Value)));
        var commit = Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes(repoId + "\n" + listing))).ToLowerInvariant();
        _repos[repoId] = new Repo(commit, files, gated);
        return commit;
    }

    /// <summary>The commit of a repo's main.</summary>
    public string CommitOf(string repoId) => _repos[repoId].Commit;

    /// <summary>A file's content.</summary>
    public byte[] FileOf(string repoId, string path) => _repos[repoId].Files[path];

    /// <summary>True for files served through the CDN with a sha256 ETag (weights and anything over 10 MiB).</summary>
    public static bool IsLfs(string path, byte[] content) => path.EndsWith(".safetensors", StringComparison.Ordinal) || path.EndsWith(".bin", StringComparison.Ordinal) || content.Length > 10 << 20;

    /// <summary>The ETag the Hub gives a file: the sha256 for LFS files, the git blob sha1 otherwise.</summary>
    public static string ETag(string path, byte[] content) => IsLfs(path, content) ? Sha256(content) : GitSha1(content);

    /// <summary>sha256, lower-case hex.</summary>
    public static string Sha256(byte[] content) => Hashes(content).Sha256;

    /// <summary>git's blob id: sha1("blob {length}\0" + content).</summary>
    public static string GitSha1(byte[] content) => Hashes(content).GitSha1;

    /// <summary>Requests whose path contains <paramref name="fragment"/>.</summary>
    public IReadOnlyList<Request> Requests(string method, string fragment) =>
        Log.Where(r => r.Method == method && r.Path.Contains(fragment, StringComparison.Ordinal)).ToList();

    /// <summary>Stops the server.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose(); // IsCancellationRequested stays readable, so a second Dispose returns early
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (HttpListenerException) { return; }
            catch (ObjectDisposedException) { return; }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var toCdn = request.LocalEndPoint.Port == CdnPort;
        var path = Uri.UnescapeDataString(request.Url!.AbsolutePath);
        var status = 500;
        try
        {
            status = toCdn ? await CdnAsync(request, response, path) : await HubAsync(request, response, path);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException) { status = -1; }
        finally
        {
            Log.Enqueue(new Request(request.HttpMethod, path, toCdn, request.Headers["Range"], request.Headers["Authorization"] is not null, status));
            try { response.Close(); } catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException) { }
        }
    }

    private async Task<int> HubAsync(HttpListenerRequest request, HttpListenerResponse response, string path)
    {
        var parts = path.TrimStart('/').Split('/');
        if (parts.Length >= 5 && parts[0] == "api" && parts[1] == "models" && parts[4] == "revision")
        {
            var repoId = parts[2] + "/" + parts[3];
            var revision = string.Join('/', parts[5..]);
            if (Refuse(request, response, repoId, checkGate: false, out var repo)) return response.StatusCode;
            if (revision != "main" && revision != repo!.Commit) return Error(response, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            var json = JsonSerializer.SerializeToUtf8Bytes(new
            {
                id = repoId, modelId = repoId, sha = repo!.Commit, @private = false, gated = repo.Gated ? "manual" : (object)false,
                siblings = repo.Files.Keys.Order(StringComparer.Ordinal).Select(f => new { rfilename = f }),
            });
            response.ContentType = "application/json";
            await WriteAsync(request, response, json, null, null, 200);
            return 200;
        }
        if (parts.Length >= 6 && parts[0] == "api" && parts[1] == "resolve-cache" && parts[2] == "models")
        {
            var repoId = parts[3] + "/" + parts[4];
            var file = string.Join('/', parts[6..]);
            if (Refuse(request, response, repoId, checkGate: true, out var repo)) return response.StatusCode;
            if (!repo!.Files.TryGetValue(file, out var content)) return Error(response, 404, "EntryNotFound", "Entry not found", repo.Commit);
            response.Headers["X-Repo-Commit"] = repo.Commit;
            response.Headers["ETag"] = $"\"{GitSha1(content)}\"";
            return await WriteAsync(request, response, content, file, request.Headers["Range"], 200);
        }
        if (parts.Length >= 5 && parts[2] == "resolve")
        {
            var repoId = parts[0] + "/" + parts[1];
            var revision = parts[3];
            var file = string.Join('/', parts[4..]);
            if (Refuse(request, response, repoId, checkGate: true, out var repo)) return response.StatusCode;
            if (revision != "main" && revision != repo!.Commit) return Error(response, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            if (!repo!.Files.TryGetValue(file, out var content)) return Error(response, 404, "EntryNotFound", "Entry not found", repo.Commit);
            response.Headers["X-Repo-Commit"] = repo.Commit;
            if (IsLfs(file, content))
            {
                var sha = Sha256(content);
                response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
                response.Headers["X-Linked-Size"] = content.Length.ToString(CultureInfo.InvariantCulture);
                response.Headers["Accept-Ranges"] = "bytes";
                response.Headers["Location"] = $"http://127.0.0.1:{CdnPort}/{repoId}/{sha}?file={Uri.EscapeDataString(file)}&signature=x";
                response.StatusCode = 302;
                return 302;
            }
            response.Headers["Location"] = $"/api/resolve-cache/models/{repoId}/{repo.Commit}/{file}?revision={revision}&etag={GitSha1(content)}";
            response.StatusCode = 307;
            return 307;
        }
        return Error(response, 404, null, "Not found");
    }

    private async Task<int> CdnAsync(HttpListenerRequest request, HttpListenerResponse response, string path)
    {
        var file = request.QueryString["file"];
        var parts = path.TrimStart('/').Split('/');
        if (file is null || parts.Length != 3 || !_repos.TryGetValue(parts[0] + "/" + parts[1], out var repo) || !repo.Files.TryGetValue(file, out var content)
            || Sha256(content) != parts[2])
        {
            response.StatusCode = 403;
            return 403;
        }
        response.Headers["ETag"] = "\"cdn-etag-is-not-the-sha\"";
        return await WriteAsync(request, response, content, file, request.Headers["Range"], 200);
    }

    /// <summary>Repo missing, token refused or gate closed: writes the error the Hub would and returns true.</summary>
    private bool Refuse(HttpListenerRequest request, HttpListenerResponse response, string repoId, bool checkGate, out Repo? repo)
    {
        var auth = request.Headers["Authorization"];
        var sent = auth?.StartsWith("Bearer ", StringComparison.Ordinal) == true ? auth[7..] : null;
        if (sent is not null && sent != Token)
        {
            repo = null;
            Error(response, 401, null, "Invalid credentials in Authorization header");
            return true;
        }
        if (!_repos.TryGetValue(repoId, out repo))
        {
            Error(response, sent is null ? 401 : 404, "RepoNotFound", "Repository not found");
            return true;
        }
        if (checkGate && repo.Gated && sent is null)
        {
            Error(response, 401, "GatedRepo", $"Access to model {repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.");
            return true;
        }
        return false;
    }

    private static int Error(HttpListenerResponse response, int status, string? code, string message, string? commit = null)
    {
        response.StatusCode = status;
        if (code is not null) response.Headers["X-Error-Code"] = code;
        response.Headers["X-Error-Message"] = message;
        if (commit is not null) response.Headers["X-Repo-Commit"] = commit;
        var body = JsonSerializer.SerializeToUtf8Bytes(new { error = message });
        response.ContentType = "application/json";
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
        return status;
    }

    private async Task<int> WriteAsync(HttpListenerRequest request, HttpListenerResponse response, byte[] content, string? file, string? range, int status)
    {
        long from = 0;
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-')
            && long.TryParse(range[6..^1], CultureInfo.InvariantCulture, out var start) && start < content.Length)
        {
            from = start;
            status = 206;
            response.Headers["Content-Range"] = $"bytes {from}-{content.Length - 1}/{content.Length}";
        }
        response.StatusCode = status;
        response.ContentLength64 = content.Length - from;
        if (request.HttpMethod == "HEAD") return status;
        var body = content;
        if (file is not null && Corrupt.ContainsKey(file))
        {
            body = (byte[])content.Clone();
            body[body.Length / 2] ^= 0x5A;
        }
        long dropAt = long.MaxValue;
        if (file is not null && DropAfter.TryGetValue(file, out var drop) && drop.Times > 0)
        {
            DropAfter[file] = (drop.AfterBytes, drop.Times - 1);
            dropAt = drop.AfterBytes;
        }
        var output = response.OutputStream;
        for (var pos = from; pos < body.Length; pos += 64 << 10)
        {
            var n = (int)Math.Min(64 << 10, Math.Min(body.Length - pos, dropAt - pos));
            if (n <= 0) break;
            await output.WriteAsync(body.AsMemory((int)pos, n));
            if (ChunkDelay > TimeSpan.Zero) await Task.Delay(ChunkDelay);
        }
        if (dropAt < body.Length)
        {
            await output.FlushAsync();
            await Task.Delay(50);
            response.Abort(); // the connection closes before Content-Length bytes were sent
            return -1;
        }
        return status;
    }
}
