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
    public static string Folder(string name, IEnumerable<Entry> entries, Action<string>? finish = null)
    {
        var version = typeof(ResourceCache).Assembly.GetName().Version?.ToString() ?? "0";
        var root = Path.Combine(Root, $"{name}-{version}");
        if (File.Exists(Path.Combine(root, ".complete"))) return root;
        var staging = root + "." + Guid.NewGuid().ToString("N");
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
        try
        {
            if (Directory.Exists(root)) Directory.Delete(root, true);
            Directory.Move(staging, root);
        }
        catch (IOException) when (File.Exists(Path.Combine(root, ".complete")))
        {
            Directory.Delete(staging, true);
        }
        return root;
    }
}
