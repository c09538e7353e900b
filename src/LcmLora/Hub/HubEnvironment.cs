using System.Globalization;

namespace LcmLora.Hub;

/// <summary>The environment variables huggingface_hub reads, with its precedence (see docs/hub.md).</summary>
internal static class HubEnvironment
{
    private static string? Var(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "")
            : path;

    /// <summary><c>HF_HOME</c>, else <c>$XDG_CACHE_HOME/huggingface</c>, else <c>~/.cache/huggingface</c>.</summary>
    public static string Home() => ExpandHome(Var("HF_HOME")
        ?? Path.Combine(Var("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "huggingface"));

    /// <summary><c>HF_HUB_CACHE</c>, else the legacy <c>HUGGINGFACE_HUB_CACHE</c>, else <c>{HF_HOME}/hub</c>.</summary>
    public static string CacheDirectory() => ExpandHome(Var("HF_HUB_CACHE") ?? Var("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(Home(), "hub"));

    /// <summary><c>HF_ENDPOINT</c> without a trailing slash, else https://huggingface.co.</summary>
    public static Uri Endpoint() => Var("HF_ENDPOINT") is { } e ? new Uri(e.TrimEnd('/')) : HubOptions.DefaultEndpoint;

    /// <summary><c>HF_TOKEN</c>, then <c>HUGGING_FACE_HUB_TOKEN</c>, then the token file (<c>HF_TOKEN_PATH</c> or <c>{HF_HOME}/token</c>).</summary>
    public static string? Token()
    {
        if (IsTrue("HF_HUB_DISABLE_IMPLICIT_TOKEN")) return null;
        if ((Var("HF_TOKEN") ?? Var("HUGGING_FACE_HUB_TOKEN")) is { } env) return env.Trim();
        var file = ExpandHome(Var("HF_TOKEN_PATH") ?? Path.Combine(Home(), "token"));
        try
        {
            return File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } token ? token : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary><c>HF_HUB_OFFLINE</c> (or <c>TRANSFORMERS_OFFLINE</c>) is 1, ON, YES or TRUE.</summary>
    public static bool Offline() => IsTrue("HF_HUB_OFFLINE") || IsTrue("TRANSFORMERS_OFFLINE");

    /// <summary>A whole number of seconds from a variable, or null.</summary>
    public static TimeSpan? Seconds(string name) =>
        Var(name) is { } v && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? TimeSpan.FromSeconds(s) : null;

    /// <summary>A boolean variable as huggingface_hub reads it: 1, ON, YES or TRUE in any case.</summary>
    public static bool IsTrue(string name) =>
        Var(name)?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
}
