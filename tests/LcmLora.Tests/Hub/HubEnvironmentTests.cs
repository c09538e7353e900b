using LcmLora.Hub;
using Xunit;

namespace LcmLora.Tests.Hub;

[Trait("Category", "unit")]
public class HubEnvironmentTests : TempDirectoryTest
{
    private static readonly string[] Names =
    [
        "HF_ENDPOINT", "HF_HOME", "XDG_CACHE_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
        "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_IMPLICIT_TOKEN", "HF_HUB_DISABLE_SYMLINKS", "HF_HUB_ETAG_TIMEOUT",
    ];

    private static HubOptions With(params (string Name, string? Value)[] vars)
    {
        var saved = Names.ToDictionary(n => n, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var n in Names) Environment.SetEnvironmentVariable(n, null);
            foreach (var (n, v) in vars) Environment.SetEnvironmentVariable(n, v);
            return HubOptions.FromEnvironment();
        }
        finally
        {
            foreach (var (n, v) in saved) Environment.SetEnvironmentVariable(n, v);
        }
    }

    [Fact]
    public void TheCacheFolderFollowsHuggingFaceHubsPrecedence()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), With().CacheDirectory);
        Assert.Equal(Path.Combine(TempDir, "xdg", "huggingface", "hub"), With(("XDG_CACHE_HOME", Path.Combine(TempDir, "xdg"))).CacheDirectory);
        Assert.Equal(Path.Combine(TempDir, "home", "hub"), With(("HF_HOME", Path.Combine(TempDir, "home")), ("XDG_CACHE_HOME", "/x")).CacheDirectory);
        Assert.Equal(TempPath("legacy"), With(("HUGGINGFACE_HUB_CACHE", TempPath("legacy")), ("HF_HOME", "/h")).CacheDirectory);
        Assert.Equal(TempPath("hub"), With(("HF_HUB_CACHE", TempPath("hub")), ("HUGGINGFACE_HUB_CACHE", "/l"), ("HF_HOME", "/h")).CacheDirectory);
        Assert.Equal(Path.Combine(home, "models"), With(("HF_HUB_CACHE", "~/models")).CacheDirectory);
    }

    [Fact]
    public void TheTokenComesFromTheEnvironmentThenTheTokenFile()
    {
        var home = TempPath("home");
        Directory.CreateDirectory(home);
        Assert.Null(With(("HF_HOME", home)).Token);
        File.WriteAllText(Path.Combine(home, "token"), "  hf_file\r\n");
        Assert.Equal("hf_file", With(("HF_HOME", home)).Token);
        Assert.Equal("hf_legacy", With(("HF_HOME", home), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")).Token);
        Assert.Equal("hf_env", With(("HF_HOME", home), ("HF_TOKEN", "hf_env"), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")).Token);
        File.WriteAllText(TempPath("other-token"), "hf_other");
        Assert.Equal("hf_other", With(("HF_HOME", home), ("HF_TOKEN_PATH", TempPath("other-token"))).Token);
        Assert.Null(With(("HF_HOME", home), ("HF_TOKEN", "hf_env"), ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")).Token);
        File.WriteAllText(Path.Combine(home, "token"), "");
        Assert.Null(With(("HF_HOME", home)).Token);
    }

    [Fact]
    public void EndpointOfflineSymlinksAndTimeout()
    {
        Assert.Equal(new Uri("https://huggingface.co"), With().Endpoint);
        Assert.Equal(new Uri("http://127.0.0.1:8080/mirror"), With(("HF_ENDPOINT", "http://127.0.0.1:8080/mirror/")).Endpoint);
        Assert.False(With().Offline);
        foreach (var yes in new[] { "1", "ON", "yes", "True" }) Assert.True(With(("HF_HUB_OFFLINE", yes)).Offline, yes);
        Assert.False(With(("HF_HUB_OFFLINE", "0")).Offline);
        Assert.True(With(("TRANSFORMERS_OFFLINE", "1")).Offline);
        Assert.True(With().UseSymlinks);
        Assert.False(With(("HF_HUB_DISABLE_SYMLINKS", "1")).UseSymlinks);
        Assert.Equal(TimeSpan.FromSeconds(30), With(("HF_HUB_ETAG_TIMEOUT", "30")).MetadataTimeout);
    }
}
