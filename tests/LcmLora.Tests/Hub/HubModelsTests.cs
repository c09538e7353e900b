using LcmLora.Checkpoints;
using LcmLora.Hub;
using Xunit;

namespace LcmLora.Tests.Hub;

[Trait("Category", "integration")]
public class HubModelsTests : HubTestBase
{
    private IReadOnlyList<string> FixtureFiles() =>
        Directory.EnumerateFiles(Fixtures.Path("tiny-sdxl", "diffusers"), "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Fixtures.Path("tiny-sdxl", "diffusers"), f).Replace('\\', '/')).Order().ToList();

    [Fact]
    public async Task ASnapshotFetchesWhatThePipelineNeedsIntoThePythonLayout()
    {
        using var hub = new HubModels(Options());
        var folder = await hub.DownloadSnapshotAsync(Tiny);

        var commit = Server.CommitOf(Tiny);
        Assert.Equal(Path.Combine(RepoFolder(Tiny), "snapshots", commit), folder);
        // refs/main is read verbatim by Python: exactly the 40 characters, no newline.
        Assert.Equal(System.Text.Encoding.ASCII.GetBytes(commit), File.ReadAllBytes(Path.Combine(RepoFolder(Tiny), "refs", "main")));
        foreach (var file in FixtureFiles())
        {
            var entry = new FileInfo(Path.Combine(folder, file));
            Assert.True(entry.LinkTarget is { } target && !Path.IsPathRooted(target), $"{file} is not a relative symlink");
            var etag = HubTestServer.ETag(file, Server.FileOf(Tiny, file));
            Assert.Equal(Path.Combine(RepoFolder(Tiny), "blobs", etag), Path.GetFullPath(Path.Combine(entry.DirectoryName!, entry.LinkTarget!)));
            Assert.Equal(Server.FileOf(Tiny, file), File.ReadAllBytes(entry.FullName));
        }
        foreach (var never in NeverFetched.Append("README.md"))
        {
            Assert.Empty(Server.Requests("HEAD", never));
            Assert.False(File.Exists(Path.Combine(folder, never)), never);
        }
        Assert.DoesNotContain(Server.Log, r => r.HasAuthorization);
        Assert.Empty(Directory.EnumerateFiles(Cache, "*.incomplete", SearchOption.AllDirectories));
        // The snapshot (symlinks into blobs/) loads as a diffusers folder.
        using var checkpoint = SdxlCheckpoint.Open(folder);
        Assert.All(checkpoint.Inspect(), report => Assert.True(report.IsComplete, report.Component));
    }

    [Fact]
    public async Task AFilledSnapshotCostsOneListingRequestAndNoDownload()
    {
        using var hub = new HubModels(Options());
        var first = await hub.DownloadSnapshotAsync(Tiny);
        var before = Server.Log.Count;
        var reports = new List<HubProgress>();
        var second = await hub.DownloadSnapshotAsync(Tiny, progress: new SyncProgress<HubProgress>(reports.Add));
        Assert.Equal(first, second);
        var after = Server.Log.Skip(before).ToList();
        Assert.Single(after);
        Assert.Contains("/api/models/test-org/tiny-sdxl/revision/main", after[0].Path);
        Assert.All(reports, r => Assert.Equal(HubFileStatus.Cached, r.Status));
        Assert.Equal(FixtureFiles().Count, reports.Count);
    }

    [Fact]
    public async Task ACacheLaidOutByHuggingFaceHubIsReusedUntouched()
    {
        // The layout huggingface_hub writes: blobs named by sha256 (LFS) or git sha1, relative symlinks, refs/main
        // without a newline, a .locks folder; on Windows without symlinks, snapshot entries are plain files.
        var commit = Server.CommitOf(Tiny);
        var repo = RepoFolder(Tiny);
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        Directory.CreateDirectory(Path.Combine(Cache, ".locks", "models--test-org--tiny-sdxl"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        foreach (var file in FixtureFiles())
        {
            var content = Server.FileOf(Tiny, file);
            var blob = Path.Combine(repo, "blobs", HubTestServer.ETag(file, content));
            File.WriteAllBytes(blob, content);
            var entry = Path.Combine(repo, "snapshots", commit, file);
            Directory.CreateDirectory(Path.GetDirectoryName(entry)!);
            if (file == "model_index.json") File.Copy(blob, entry);
            else File.CreateSymbolicLink(entry, Path.GetRelativePath(Path.GetDirectoryName(entry)!, blob));
        }
        var old = DateTime.UtcNow.AddDays(-3);
        foreach (var f in Directory.EnumerateFiles(repo, "*", SearchOption.AllDirectories)) File.SetLastWriteTimeUtc(f, old);
        var listing = Directory.EnumerateFileSystemEntries(Cache, "*", SearchOption.AllDirectories).Order().ToList();

        using var hub = new HubModels(Options());
        var folder = await hub.ResolveModelAsync(Tiny);

        Assert.Equal(Path.Combine(repo, "snapshots", commit), folder);
        Assert.DoesNotContain(Server.Log, r => r.Method == "HEAD" || r.ToCdn || r.Path.Contains("/resolve"));
        Assert.Equal(listing, Directory.EnumerateFileSystemEntries(Cache, "*", SearchOption.AllDirectories).Order().ToList());
        Assert.All(Directory.EnumerateFiles(Path.Combine(repo, "blobs")), f => Assert.Equal(old, File.GetLastWriteTimeUtc(f)));
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repo, "refs", "main")));
    }

    [Fact]
    public async Task ADroppedConnectionIsResumedWithARangeRequest()
    {
        Server.DropAfter[UnetWeights] = (1 << 20, 1);
        using var hub = new HubModels(Options());
        var file = await hub.DownloadFileAsync(Tiny, UnetWeights);

        Assert.Equal(Server.FileOf(Tiny, UnetWeights), File.ReadAllBytes(file));
        var gets = Server.Requests("GET", HubTestServer.Sha256(Server.FileOf(Tiny, UnetWeights)));
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        Assert.Matches(@"^bytes=[1-9]\d*-$", gets[1].Range);
        Assert.Equal(206, gets[1].Status);
    }

    [Fact]
    public async Task AFailedCallKeepsTheBytesAndTheNextCallResumesThem()
    {
        Server.DropAfter[UnetWeights] = (1 << 20, 1);
        using (var failing = new HubModels(Options() with { MaxRetries = 0 }))
        {
            var error = await Assert.ThrowsAsync<HubException>(() => failing.DownloadFileAsync(Tiny, UnetWeights));
            Assert.Equal(HubErrorKind.Network, error.Kind);
            Assert.Contains("run the command again to resume", error.Message);
        }
        var incomplete = Directory.GetFiles(Path.Combine(RepoFolder(Tiny), "blobs"), "*.incomplete").Single();
        var kept = new FileInfo(incomplete).Length;
        Assert.InRange(kept, 1, (1 << 20));
        Assert.False(Directory.Exists(Path.Combine(RepoFolder(Tiny), "snapshots", Server.CommitOf(Tiny), "unet")));

        using var hub = new HubModels(Options());
        var file = await hub.DownloadFileAsync(Tiny, UnetWeights);
        Assert.Equal(Server.FileOf(Tiny, UnetWeights), File.ReadAllBytes(file));
        Assert.Equal($"bytes={kept}-", Server.Requests("GET", HubTestServer.Sha256(Server.FileOf(Tiny, UnetWeights))).Last().Range);
        Assert.False(File.Exists(incomplete));
    }

    [Theory]
    [InlineData(UnetWeights)]
    [InlineData("unet/config.json")]
    public async Task ACorruptedBodyIsRejectedAndNothingIsStored(string path)
    {
        Server.Corrupt[path] = true;
        using var hub = new HubModels(Options());
        var error = await Assert.ThrowsAsync<HubException>(() => hub.DownloadFileAsync(Tiny, path));
        Assert.Equal(HubErrorKind.Corrupt, error.Kind);
        Assert.Contains(path.EndsWith(".json") ? "git blob sha1" : "sha256", error.Message);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(RepoFolder(Tiny), "blobs")));
        Assert.False(Directory.Exists(Path.Combine(RepoFolder(Tiny), "snapshots")));

        Server.Corrupt.Clear();
        Assert.Equal(Server.FileOf(Tiny, path), File.ReadAllBytes(await hub.DownloadFileAsync(Tiny, path)));
    }

    [Fact]
    public async Task AMissingRepoRevisionOrFileIsATypedError()
    {
        using var hub = new HubModels(Options());
        var repo = await Assert.ThrowsAsync<HubException>(() => hub.ResolveModelAsync("test-org/no-such-model"));
        Assert.Equal(HubErrorKind.RepositoryNotFound, repo.Kind);
        Assert.Contains("test-org/no-such-model", repo.Message);

        var revision = await Assert.ThrowsAsync<HubException>(() => hub.DownloadSnapshotAsync(Tiny, revision: "v9"));
        Assert.Equal(HubErrorKind.RevisionNotFound, revision.Kind);

        var file = await Assert.ThrowsAsync<HubException>(() => hub.DownloadFileAsync(Tiny, "unet/missing.json"));
        Assert.Equal(HubErrorKind.EntryNotFound, file.Kind);
        Assert.Contains("unet/missing.json", file.Message);
        // As huggingface_hub: the 404 is remembered, so offline lookups know the file does not exist.
        Assert.True(File.Exists(Path.Combine(RepoFolder(Tiny), ".no_exist", Server.CommitOf(Tiny), "unet", "missing.json")));
    }

    [Fact]
    public async Task AGatedRepoNeedsTheTokenWhichNeverReachesTheCdn()
    {
        using (var anonymous = new HubModels(Options()))
        {
            var error = await Assert.ThrowsAsync<HubException>(() => anonymous.ResolveWeightsFileAsync("test-org/gated-lora"));
            Assert.Equal(HubErrorKind.Gated, error.Kind);
            Assert.Contains($"Accept its licence on {Server.Endpoint}test-org/gated-lora", error.Message);
            Assert.Contains("HF_TOKEN", error.Message);
        }
        using (var wrong = new HubModels(Options(token: "hf_wrong")))
        {
            var error = await Assert.ThrowsAsync<HubException>(() => wrong.ResolveWeightsFileAsync("test-org/gated-lora"));
            Assert.Equal(HubErrorKind.AccessDenied, error.Kind);
        }
        var before = Server.Log.Count;
        using var hub = new HubModels(Options(token: Server.Token));
        var file = await hub.ResolveWeightsFileAsync("test-org/gated-lora");
        Assert.Equal("pytorch_lora_weights.safetensors", Path.GetFileName(file));
        Assert.Equal(Server.FileOf("test-org/gated-lora", "pytorch_lora_weights.safetensors"), File.ReadAllBytes(file));
        var requests = Server.Log.Skip(before).ToList();
        Assert.Contains(requests, r => r.ToCdn);
        Assert.All(requests, r => Assert.Equal(!r.ToCdn, r.HasAuthorization));
    }

    [Fact]
    public async Task OfflineModeServesTheCacheWithoutARequestAndNamesWhatIsMissing()
    {
        string folder;
        using (var online = new HubModels(Options())) folder = await online.ResolveModelAsync(Tiny);
        var before = Server.Log.Count;

        using var offline = new HubModels(Options(offline: true));
        Assert.Equal(folder, await offline.ResolveModelAsync(Tiny));
        Assert.Equal(Path.Combine(folder, "unet", "config.json"), await offline.DownloadFileAsync(Tiny, "unet/config.json"));
        var missing = await Assert.ThrowsAsync<HubException>(() => offline.ResolveWeightsFileAsync("test-org/lcm-lora"));
        Assert.Equal(HubErrorKind.NotInCache, missing.Kind);
        Assert.Contains("test-org/lcm-lora", missing.Message);
        Assert.Contains("HF_HUB_OFFLINE", missing.Message);
        Assert.Contains("lcmlora download test-org/lcm-lora", missing.Message);
        Assert.Equal(before, Server.Log.Count);
    }

    [Fact]
    public async Task ACancelledDownloadKeepsItsBytesForTheNextCall()
    {
        Server.ChunkDelay = TimeSpan.FromMilliseconds(5);
        using var cts = new CancellationTokenSource();
        using var hub = new HubModels(Options());
        var progress = new SyncProgress<HubProgress>(p => { if (p.BytesDone > 0 && p.Status == HubFileStatus.Downloading) cts.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hub.DownloadFileAsync(Tiny, UnetWeights, progress: progress, cancellationToken: cts.Token));
        var incomplete = Assert.Single(Directory.GetFiles(Path.Combine(RepoFolder(Tiny), "blobs"), "*.incomplete"));
        Assert.False(Directory.Exists(Path.Combine(RepoFolder(Tiny), "snapshots", Server.CommitOf(Tiny), "unet")));
        var kept = new FileInfo(incomplete).Length;
        Assert.True(kept > 0, "the cancelled call kept no bytes");
        var blobPath = HubTestServer.Sha256(Server.FileOf(Tiny, UnetWeights));
        var getsBefore = Server.Requests("GET", blobPath).Count;

        Server.ChunkDelay = TimeSpan.Zero;
        Assert.Equal(Server.FileOf(Tiny, UnetWeights), File.ReadAllBytes(await hub.DownloadFileAsync(Tiny, UnetWeights)));
        var gets = Server.Requests("GET", blobPath);
        // The next call asks only for what is missing; when the cancel landed after the last byte, nothing is missing
        // (the kept bytes are verified and moved into place without a request).
        if (kept < Server.FileOf(Tiny, UnetWeights).Length) Assert.Equal($"bytes={kept}-", gets.Last().Range);
        else Assert.Equal(getsBefore, gets.Count);
    }

    [Fact]
    public async Task AnUnreachableServerFallsBackToTheCacheAndOtherwiseSaysSo()
    {
        string folder;
        using (var online = new HubModels(Options())) folder = await online.ResolveModelAsync(Tiny);
        Server.Dispose();

        using var hub = new HubModels(Options());
        Assert.Equal(folder, await hub.ResolveModelAsync(Tiny));
        var error = await Assert.ThrowsAsync<HubException>(() => hub.ResolveWeightsFileAsync("test-org/lcm-lora"));
        Assert.Equal(HubErrorKind.Network, error.Kind);
        Assert.Contains($"could not reach {Server.Endpoint.GetLeftPart(UriPartial.Authority)}", error.Message);
    }

    [Fact]
    public async Task TwoConcurrentDownloadsOfOneFileFetchItOnce()
    {
        Server.ChunkDelay = TimeSpan.FromMilliseconds(5);
        using var a = new HubModels(Options());
        using var b = new HubModels(Options());
        var reports = new System.Collections.Concurrent.ConcurrentBag<HubProgress>();
        var progress = new SyncProgress<HubProgress>(reports.Add);
        var paths = await Task.WhenAll(a.DownloadFileAsync(Tiny, UnetWeights, progress: progress), b.DownloadFileAsync(Tiny, UnetWeights, progress: progress));

        Assert.Equal(paths[0], paths[1]);
        Assert.Equal(Server.FileOf(Tiny, UnetWeights), File.ReadAllBytes(paths[0]));
        Assert.Single(Server.Requests("GET", HubTestServer.Sha256(Server.FileOf(Tiny, UnetWeights))));
        Assert.Contains(reports, r => r.Status == HubFileStatus.Waiting);
        Assert.Contains(reports, r => r.Status == HubFileStatus.Completed);
    }

    [Fact]
    public async Task ProgressReportsGrowingBytesAndTheTotal()
    {
        var reports = new List<HubProgress>();
        using var hub = new HubModels(Options());
        await hub.DownloadFileAsync(Tiny, UnetWeights, progress: new SyncProgress<HubProgress>(reports.Add));
        var size = Server.FileOf(Tiny, UnetWeights).Length;
        Assert.All(reports, r => Assert.Equal(size, r.TotalBytes));
        Assert.Equal(reports.Select(r => r.BytesDone).Order(), reports.Select(r => r.BytesDone));
        Assert.Equal(new HubProgress(Tiny, UnetWeights, size, size, HubFileStatus.Completed), reports[^1]);
    }

    [Fact]
    public async Task RepoIdsResolveToTheFileAModelOrLoraNeeds()
    {
        using var hub = new HubModels(Options());
        Assert.Equal("pytorch_lora_weights.safetensors", Path.GetFileName(await hub.ResolveWeightsFileAsync("test-org/lcm-lora")));
        Assert.Equal("tiny_sdxl_sgm.safetensors", Path.GetFileName(await hub.ResolveModelAsync("test-org/tiny-sdxl-single")));
        Assert.Equal("config.json", Path.GetFileName(await hub.ResolveModelAsync("test-org/tiny-sdxl/unet/config.json")));
        Assert.Empty(Server.Requests("HEAD", "README.md"));
        Assert.Empty(Server.Requests("HEAD", ".bin"));
        Assert.True(HubModels.IsRepoReference("org/name/sub/file.safetensors"));
        Assert.False(HubModels.IsRepoReference(TempDir));
        Assert.False(HubModels.IsRepoReference("C:/models/x.safetensors"));
        Assert.False(HubModels.IsRepoReference("org/../x"));
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and race the asserts).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value)
        {
            lock (this) report(value);
        }
    }
}
