using LcmLora.Checkpoints;
using Xunit;

namespace LcmLora.Tests.Checkpoints;

[Trait("Category", "unit")]
public class HuggingFaceCacheTests : TempDirectoryTest
{
    [Fact]
    public void RepoIdsResolveToTheCurrentSnapshotOfTheLocalCache()
    {
        var repo = Path.Combine(TempDir, "hub", "models--stabilityai--stable-diffusion-xl-base-1.0");
        var old = Directory.CreateDirectory(Path.Combine(repo, "snapshots", "aaaa")).FullName;
        var current = Directory.CreateDirectory(Path.Combine(repo, "snapshots", "bbbb")).FullName;
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), "bbbb\n");
        File.WriteAllText(Path.Combine(current, "pytorch_lora_weights.safetensors"), "");
        var saved = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
        try
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", Path.Combine(TempDir, "hub"));
            Assert.Equal(current, HuggingFaceCache.Resolve("stabilityai/stable-diffusion-xl-base-1.0"));
            Assert.Equal(Path.Combine(current, "pytorch_lora_weights.safetensors"), HuggingFaceCache.ResolveFile("stabilityai/stable-diffusion-xl-base-1.0"));
            var missing = Assert.Throws<LcmLoraInputException>(() => HuggingFaceCache.Resolve("latent-consistency/lcm-lora-sdxl"));
            Assert.Contains("not found in the local Hugging Face cache", missing.Message);
            Assert.Contains("never downloads", missing.Message);
            Assert.NotEqual(old, current);
        }
        finally { Environment.SetEnvironmentVariable("HF_HUB_CACHE", saved); }
    }

    [Fact]
    public void ExistingPathsWinAndNonsenseIsNotFound()
    {
        Assert.Equal(TempDir, HuggingFaceCache.Resolve(TempDir));
        Assert.Throws<FileNotFoundException>(() => HuggingFaceCache.Resolve(Path.Combine(TempDir, "no", "such", "model.safetensors")));
    }
}
