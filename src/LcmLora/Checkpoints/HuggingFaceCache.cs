using System.Text.RegularExpressions;

namespace LcmLora.Checkpoints;

/// <summary>
/// Finds models that are already in the local Hugging Face cache, so a repo id such as
/// <c>stabilityai/stable-diffusion-xl-base-1.0</c> can stand for a path. Offline first: nothing is ever downloaded.
/// The cache is <c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>; a repo lives in
/// <c>models--{org}--{name}/snapshots/{revision}/</c>, with <c>refs/main</c> naming the current revision.
/// </summary>
public static class HuggingFaceCache
{
    private static readonly Regex RepoId = new(@"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$", RegexOptions.CultureInvariant);

    /// <summary>The hub cache folder in use.</summary>
    public static string HubDirectory => Hub.HubEnvironment.CacheDirectory();

    /// <summary>True when <paramref name="value"/> is shaped like <c>org/name</c> and is not an existing path.</summary>
    public static bool LooksLikeRepoId(string value) => RepoId.IsMatch(value) && !File.Exists(value) && !Directory.Exists(value);

    /// <summary>
    /// Returns <paramref name="pathOrRepoId"/> unchanged when it is an existing file or folder; otherwise, for a repo
    /// id, the snapshot folder in the local cache.
    /// </summary>
    /// <exception cref="LcmLoraInputException">A repo id that is not in the cache (the message says where it looked and what to do).</exception>
    /// <exception cref="FileNotFoundException">Neither a path nor a repo id.</exception>
    public static string Resolve(string pathOrRepoId)
    {
        if (File.Exists(pathOrRepoId) || Directory.Exists(pathOrRepoId)) return pathOrRepoId;
        if (!LooksLikeRepoId(pathOrRepoId)) throw new FileNotFoundException($"{pathOrRepoId}: no such file or folder.", pathOrRepoId);
        var repo = Path.Combine(HubDirectory, "models--" + pathOrRepoId.Replace("/", "--", StringComparison.Ordinal));
        var snapshots = Path.Combine(repo, "snapshots");
        if (Directory.Exists(snapshots))
        {
            var refMain = Path.Combine(repo, "refs", "main");
            if (File.Exists(refMain))
            {
                var current = Path.Combine(snapshots, File.ReadAllText(refMain).Trim());
                if (Directory.Exists(current)) return current;
            }
            var newest = new DirectoryInfo(snapshots).EnumerateDirectories().OrderByDescending(d => d.LastWriteTimeUtc).FirstOrDefault();
            if (newest is not null) return newest.FullName;
        }
        throw new LcmLoraInputException($"{pathOrRepoId}: not found in the local Hugging Face cache (looked in {repo}). LcmLora never downloads; " +
            $"fetch it first (for example 'huggingface-cli download {pathOrRepoId}'), set HF_HOME or HF_HUB_CACHE to the cache that holds it, or pass a path.");
    }

    /// <summary>
    /// Like <see cref="Resolve"/>, for files: a folder (or cached repo) holding exactly one <c>.safetensors</c> file at
    /// its top level resolves to that file (a LoRA repo such as <c>latent-consistency/lcm-lora-sdxl</c>).
    /// </summary>
    public static string ResolveFile(string pathOrRepoId)
    {
        var resolved = Resolve(pathOrRepoId);
        if (File.Exists(resolved)) return resolved;
        var files = Directory.EnumerateFiles(resolved, "*.safetensors").ToList();
        return files.Count == 1 ? files[0]
            : throw new LcmLoraInputException($"{pathOrRepoId}: expected one .safetensors file in {resolved}, found {files.Count}; pass the file path.");
    }
}
