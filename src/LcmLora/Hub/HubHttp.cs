using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace LcmLora.Hub;

/// <summary>What a <c>HEAD /{repo}/resolve/{revision}/{path}</c> told about a file.</summary>
/// <param name="Commit">The commit the revision points at (<c>X-Repo-Commit</c>).</param>
/// <param name="ETag">The blob name: the sha256 of an LFS file or the git blob sha1 of a small one.</param>
/// <param name="Size">The file size, when known.</param>
/// <param name="Location">Where to GET the bytes (a CDN URL for LFS files).</param>
internal sealed record HubFileMetadata(string Commit, string ETag, long? Size, Uri Location);

/// <summary>A repository at a commit and its file list (<c>GET /api/models/{repo}/revision/{revision}</c>).</summary>
internal sealed record HubRepoInfo(string Commit, IReadOnlyList<string> Files);

/// <summary>
/// The Hub protocol over <see cref="HttpClient"/> (no maintained .NET Hub client is available, see docs/hub.md).
/// Redirects are followed by hand: a metadata HEAD follows only relative <c>Location</c>s and reads the headers of
/// the first absolute redirect (the CDN); the token goes to the configured endpoint's origin only, never to a CDN.
/// Every request asks for <c>Accept-Encoding: identity</c>, so sizes and Range offsets are those of the file.
/// </summary>
internal sealed class HubHttp(HubOptions options, HttpClient client)
{
    private const int MaxRedirects = 10;
    private static readonly string UserAgent = $"lcmlora/{typeof(HubHttp).Assembly.GetName().Version?.ToString(3)}; hf_hub_dotnet/1";

    public static HttpClient CreateClient(HttpMessageHandler? handler) =>
        new(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, ConnectTimeout = TimeSpan.FromSeconds(10) },
            disposeHandler: handler is null) { Timeout = Timeout.InfiniteTimeSpan };

    public static string Quote(string segment) => Uri.EscapeDataString(segment);

    public static string QuotePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    public Uri ResolveUrl(string repoId, string revision, string path) =>
        new(options.Endpoint, $"{options.Endpoint.AbsolutePath.TrimEnd('/')}/{repoId}/resolve/{Quote(revision)}/{QuotePath(path)}");

    private Uri ApiUrl(string repoId, string revision) =>
        new(options.Endpoint, $"{options.Endpoint.AbsolutePath.TrimEnd('/')}/api/models/{repoId}/revision/{Quote(revision)}");

    /// <summary>The commit and file list of a repository at a revision.</summary>
    public async Task<HubRepoInfo> RepoInfoAsync(string repoId, string revision, CancellationToken ct)
    {
        using var timeout = MetadataTimeout(ct);
        using var response = await SendFollowingAsync(HttpMethod.Get, ApiUrl(repoId, revision), null, allRedirects: false, repoId, null, timeout.Token, ct).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, repoId, null, revision).ConfigureAwait(false);
        var json = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var sha = root.GetProperty("sha").GetString() ?? "";
            if (!HubCache.IsCommit(sha)) throw new HubException(HubErrorKind.Protocol, $"{repoId}: the server's repository info has no commit sha ({options.Endpoint}).");
            var files = root.GetProperty("siblings").EnumerateArray().Select(s => s.GetProperty("rfilename").GetString() ?? "").Where(f => f.Length > 0).ToList();
            return new HubRepoInfo(sha, files);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new HubException(HubErrorKind.Protocol, $"{repoId}: the server's repository info is not the Hub's JSON ({e.Message}).", e);
        }
    }

    /// <summary>HEAD the resolve URL: commit, ETag, size and download location of one file.</summary>
    public async Task<HubFileMetadata> FileMetadataAsync(string repoId, string revision, string path, CancellationToken ct)
    {
        using var timeout = MetadataTimeout(ct);
        using var response = await SendFollowingAsync(HttpMethod.Head, ResolveUrl(repoId, revision, path), null, allRedirects: false, repoId, path, timeout.Token, ct).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, repoId, path, revision).ConfigureAwait(false);
        var commit = Header(response, "X-Repo-Commit");
        var etag = Header(response, "X-Linked-Etag") ?? Header(response, "ETag");
        if (commit is null || !HubCache.IsCommit(commit) || etag is null)
            throw new HubException(HubErrorKind.Protocol, $"{repoId}/{path}: the server at {options.Endpoint} sent no {(commit is null ? "X-Repo-Commit" : "ETag")} header: it does not speak the Hub protocol (check HF_ENDPOINT).");
        etag = NormalizeETag(etag);
        var redirect = (int)response.StatusCode is >= 300 and < 400;
        long? size = long.TryParse(Header(response, "X-Linked-Size"), out var linked) ? linked
            : redirect ? null : response.Content.Headers.ContentLength;
        return new HubFileMetadata(commit, etag, size, response.Headers.Location is { IsAbsoluteUri: true } cdn ? cdn : response.RequestMessage!.RequestUri!);
    }

    /// <summary>GET the bytes from <paramref name="offset"/> on (a Range request when above zero), following redirects.</summary>
    public async Task<HttpResponseMessage> GetAsync(Uri location, long offset, string repoId, string path, CancellationToken ct)
    {
        var response = await SendFollowingAsync(HttpMethod.Get, location, offset > 0 ? new RangeHeaderValue(offset, null) : null, allRedirects: true, repoId, path, ct, ct,
            HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        try
        {
            await ThrowIfFailedAsync(response, repoId, path, null).ConfigureAwait(false);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private CancellationTokenSource MetadataTimeout(CancellationToken ct)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(options.MetadataTimeout);
        return cts;
    }

    private async Task<HttpResponseMessage> SendFollowingAsync(HttpMethod method, Uri url, RangeHeaderValue? range, bool allRedirects, string repoId, string? path,
        CancellationToken token, CancellationToken callerToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, url);
            request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            request.Headers.Range = range;
            if (options.Token is { } t && SameOrigin(url, options.Endpoint)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", t);
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(request, completion, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!callerToken.IsCancellationRequested)
            {
                throw new HubException(HubErrorKind.Network, $"{Describe(repoId, path)}: {url.GetLeftPart(UriPartial.Authority)} did not answer in time.", e);
            }
            catch (HttpRequestException e)
            {
                throw new HubException(HubErrorKind.Network, $"{Describe(repoId, path)}: could not reach {url.GetLeftPart(UriPartial.Authority)} ({e.Message}). " +
                    "Check the network (or HF_ENDPOINT), or set HF_HUB_OFFLINE=1 to use only what is cached.", e);
            }
            var status = (int)response.StatusCode;
            if (status is < 300 or >= 400 || response.Headers.Location is not { } location || hop >= MaxRedirects) return response;
            if (location.IsAbsoluteUri && !allRedirects) return response;
            response.Dispose();
            // A relative Location keeps the scheme, host and port and drops the query (as huggingface_hub does for the HEAD).
            url = location.IsAbsoluteUri ? location
                : allRedirects ? new Uri(url, location)
                : new Uri(url, new Uri(url, location).AbsolutePath);
        }
    }

    private static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? values.FirstOrDefault() : null;

    private static string NormalizeETag(string etag) => (etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag).Trim('"');

    private static string Describe(string repoId, string? path) => path is null ? repoId : $"{repoId}/{path}";

    /// <summary>Maps an error answer to a <see cref="HubException"/> whose message says what to do (X-Error-Code first, as huggingface_hub).</summary>
    private async Task ThrowIfFailedAsync(HttpResponseMessage response, string repoId, string? path, string? revision)
    {
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 400) return;
        var code = Header(response, "X-Error-Code");
        var serverMessage = Header(response, "X-Error-Message");
        if (serverMessage is null && response.Content.Headers.ContentLength is > 0 and < 4096)
        {
            try
            {
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error)) serverMessage = error.ToString();
            }
            catch (JsonException) { }
        }
        var what = Describe(repoId, path);
        var page = new Uri(options.Endpoint, $"{options.Endpoint.AbsolutePath.TrimEnd('/')}/{repoId}");
        var tokenNote = options.Token is null ? "no token was sent" : "the token sent was refused";
        var detail = serverMessage is null ? "" : $" Server: {serverMessage}";
        var commit = Header(response, "X-Repo-Commit");
        if (code == "EntryNotFound" && path is not null && commit is not null && HubCache.IsCommit(commit))
            throw new HubEntryNotFound(commit, $"{what}: no such file in {repoId} at revision {revision ?? commit}.{detail}");
        throw (code, status) switch
        {
            ("GatedRepo", _) => new HubException(HubErrorKind.Gated,
                $"{what}: {repoId} is a gated model ({tokenNote}). Accept its licence on {page} while logged in, then set HF_TOKEN to a token of that account " +
                $"(or run 'huggingface-cli login').{detail}"),
            ("RepoNotFound", _) or (_, 401) when serverMessage?.Contains("Invalid credentials", StringComparison.OrdinalIgnoreCase) != true =>
                new HubException(HubErrorKind.RepositoryNotFound,
                    $"{what}: repository {repoId} not found on {options.Endpoint} (or it is private and {tokenNote}: set HF_TOKEN). Check the spelling, or pass a local path.{detail}"),
            ("RevisionNotFound", _) => new HubException(HubErrorKind.RevisionNotFound, $"{what}: revision '{revision}' not found in {repoId}.{detail}"),
            ("EntryNotFound", _) or (_, 404) when path is not null => new HubException(HubErrorKind.EntryNotFound, $"{what}: no such file in {repoId}.{detail}"),
            (_, 401 or 403) => new HubException(HubErrorKind.AccessDenied, $"{what}: {options.Endpoint} refused access ({status}; {tokenNote}). Check HF_TOKEN.{detail}"),
            (_, 404) => new HubException(HubErrorKind.RepositoryNotFound, $"{what}: not found on {options.Endpoint} (404).{detail}"),
            _ => new HubException(HubErrorKind.Network, $"{what}: {options.Endpoint} answered {status} {response.ReasonPhrase}; try again later.{detail}"),
        };
    }
}

/// <summary>A 404 for a file, with the commit the server reported (so the cache can record it as missing).</summary>
internal sealed class HubEntryNotFound(string commit, string message) : Exception(message)
{
    public string Commit { get; } = commit;
}
