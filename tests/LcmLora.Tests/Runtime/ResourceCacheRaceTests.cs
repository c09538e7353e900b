using LcmLora.Runtime;
using Xunit;

namespace LcmLora.Tests.Runtime;

/// <summary>
/// First use of the resource cache by several processes at once: 4 processes on an empty cache used to fail 13 times
/// in 40 ("Could not find file", "Directory not empty", leftover staging folders), because a loser deleted the folder
/// the winner had just published.
/// </summary>
[Trait("Category", "unit")]
public class ResourceCacheRaceTests : TempDirectoryTest
{
    private static readonly ResourceCache.Entry[] Entries =
    [
        new("LcmLora.Text.Resources.tokenizer.special_tokens_map.json", Path.Combine("tokenizer", "special_tokens_map.json")),
        new("LcmLora.Text.Resources.merges.txt.gz", Path.Combine("tokenizer", "merges.txt"), Gzip: true),
    ];

    [Fact]
    public void ConcurrentPublishersAllSucceedWithOneCompleteFolder()
    {
        const int publishers = 8;
        using var start = new Barrier(publishers);
        var results = new string[publishers];
        var errors = new List<Exception>();
        var threads = Enumerable.Range(0, publishers).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            // Every publisher stages before any publishes: the widest window for the race.
            try { results[i] = ResourceCache.Folder(TempDir, "race", Entries, _ => Thread.Sleep(100)); }
            catch (Exception e) { lock (errors) errors.Add(e); }
        })).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.Empty(errors);
        Assert.Single(results.Distinct());
        Assert.All(results, r => Assert.NotNull(r));
        var root = results[0];
        Assert.True(File.Exists(Path.Combine(root, ".complete")));
        Assert.True(new FileInfo(Path.Combine(root, "tokenizer", "merges.txt")).Length > 100_000);
        Assert.Equal([root], Directory.GetFileSystemEntries(TempDir));
    }

    [Fact]
    public void AFolderLeftWithoutItsMarkerIsReplaced()
    {
        var first = ResourceCache.Folder(TempDir, "stale", Entries);
        File.Delete(Path.Combine(first, ".complete"));
        File.Delete(Path.Combine(first, "tokenizer", "merges.txt"));
        var second = ResourceCache.Folder(TempDir, "stale", Entries);
        Assert.Equal(first, second);
        Assert.True(File.Exists(Path.Combine(second, "tokenizer", "merges.txt")));
        Assert.Equal([second], Directory.GetFileSystemEntries(TempDir));
    }
}
