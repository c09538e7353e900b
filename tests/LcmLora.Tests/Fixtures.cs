namespace LcmLora.Tests;

/// <summary>Locates the golden fixtures made by the Python reference (../shared/fixtures beside the repository).</summary>
public static class Fixtures
{
    private static readonly Lazy<string> RootDir = new(Find);

    /// <summary>The fixtures folder; override with LCMLORA_FIXTURES.</summary>
    public static string Root => RootDir.Value;

    /// <summary>A path under the fixtures folder.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>The tiny SDXL in the original single-file layout; its open config fields need <see cref="TinyConfigDir"/>.</summary>
    public static string TinySgm => Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors");

    /// <summary>The tiny SDXL's diffusers folder: the configs for <see cref="TinySgm"/> (heads and widths no released model has).</summary>
    public static string TinyConfigDir => Path("tiny-sdxl", "diffusers");

    /// <summary>The repository root (the folder holding LcmLora.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "LcmLora.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException("LcmLora.sln not found above " + AppContext.BaseDirectory);
        }
    }

    private static string Find()
    {
        var env = Environment.GetEnvironmentVariable("LCMLORA_FIXTURES");
        if (!string.IsNullOrEmpty(env)) return env;
        var candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(RepoRoot, "..", "shared", "fixtures"));
        if (!Directory.Exists(candidate))
            throw new DirectoryNotFoundException($"Golden fixtures not found at {candidate}; set LCMLORA_FIXTURES.");
        return candidate;
    }
}
