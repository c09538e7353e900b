using System.IO.Compression;

namespace LcmLora.Runtime;

/// <summary>
/// Writes files embedded in the LcmLora assembly to a per-version cache folder once, so code that reads folders
/// (tokenizers, model configs) can use them like files a user has. The cache is <c>LCMLORA_CACHE</c> or the local
/// application data folder; folders appear atomically (staged, then moved).
/// </summary>
internal static class ResourceCache
{
    /// <summary>One file to extract: the resource name, its path in the folder, and whether it is gzip-compressed.</summary>
    public sealed record Entry(string Resource, string RelativePath, bool Gzip = false);

    /// <summary>The cache root.</summary>
    public static string Root =>
        Environment.GetEnvironmentVariable("LCMLORA_CACHE") is { Length: > 0 } c
            ? c
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create) is { Length: > 0 } d
                ? d : Path.GetTempPath(), "lcmlora");

    /// <summary>Extracts the entries to <c>{Root}/{name}-{version}</c> unless already there; returns the folder.</summary>
    /// <param name="name">Folder name.</param>
    /// <param name="entries">Files to write.</param>
    /// <param name="finish">Optional extra step run in the staging folder before it is published.</param>
    public static string Folder(string name, IEnumerable<Entry> entries, Action<string>? finish = null) => Folder(Root, name, entries, finish);

    /// <summary>
    /// Extracts the entries to <c>{cacheRoot}/{name}-{version}</c> unless already there. Safe when several processes
    /// do it at once: each writes its own staging folder and publishes it with one rename; a rename that finds the
    /// folder already published means another process won, which is success (its folder is identical), and the
    /// loser deletes only its own staging folder, never the published one.
    /// </summary>
    internal static string Folder(string cacheRoot, string name, IEnumerable<Entry> entries, Action<string>? finish = null)
    {
        var version = typeof(ResourceCache).Assembly.GetName().Version?.ToString() ?? "0";
        var root = Path.Combine(cacheRoot, $"{name}-{version}");
        var marker = Path.Combine(root, ".complete");
        if (File.Exists(marker)) return root;
        var staging = root + "." + Guid.NewGuid().ToString("N");
        try
        {
            foreach (var e in entries)
            {
                var target = Path.Combine(staging, e.RelativePath);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var stream = typeof(ResourceCache).Assembly.GetManifestResourceStream(e.Resource)
                    ?? throw new InvalidOperationException($"Built-in resource {e.Resource} is missing from the LcmLora assembly.");
                using var input = e.Gzip ? new GZipStream(stream, CompressionMode.Decompress) : stream;
                using var output = File.Create(target);
                input.CopyTo(output);
            }
            finish?.Invoke(staging);
            File.WriteAllText(Path.Combine(staging, ".complete"), "");
            Publish(staging, root, marker);
            return root;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Renames the staging folder to <paramref name="root"/>. A folder left there without its marker (by a
    /// version of this code that published file by file) is renamed aside and deleted, then the rename is retried.</summary>
    private static void Publish(string staging, string root, string marker)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Directory.Move(staging, root);
                return;
            }
            catch (IOException) when (File.Exists(marker))
            {
                return; // another process published first
            }
            catch (IOException) when (attempt < 3 && Directory.Exists(root))
            {
                var stale = root + ".stale." + Guid.NewGuid().ToString("N");
                try
                {
                    Directory.Move(root, stale);
                    Directory.Delete(stale, recursive: true);
                }
                catch (IOException)
                {
                    // Someone else moved it or published meanwhile: the next attempt sees which.
                }
            }
        }
    }
}
