using System.Text.Json;
using LcmLora.IO;
using LcmLora.Tests.Cli;
using Xunit;

namespace LcmLora.Tests.Hub;

/// <summary>The CLI against the in-process Hub: HF_ENDPOINT and HF_HUB_CACHE point at it, HF_HOME at an empty folder (no token file).</summary>
[Trait("Category", "cli")]
public class HubCliTests : HubTestBase
{
    private IDisposable HubEnvironment(string? token = null, bool offline = false, bool symlinks = true) => Environment(
        ("HF_ENDPOINT", Server.Endpoint.ToString()), ("HF_HUB_CACHE", Cache), ("HF_HOME", TempPath("hf-home")), ("HF_TOKEN", token),
        ("HUGGING_FACE_HUB_TOKEN", null), ("HF_HUB_OFFLINE", offline ? "1" : null), ("TRANSFORMERS_OFFLINE", null),
        ("HF_HUB_DISABLE_SYMLINKS", symlinks ? null : "1"));

    [Fact]
    public void DownloadPrintsTheSnapshotAndReportsEachFileInPlainLines()
    {
        using var env = HubEnvironment();
        var r = CliRunner.Run("download", Tiny);
        Assert.True(r.ExitCode == 0, r.Err);
        var snapshot = Path.Combine(RepoFolder(Tiny), "snapshots", Server.CommitOf(Tiny));
        Assert.Equal(snapshot, r.Out.Trim());
        Assert.Contains($"download: {Tiny}/{UnetWeights} (7.6 MiB)", r.Err);
        Assert.Matches(@$"download: {Tiny}/{UnetWeights}: done, 7\.6 MiB in [\d.]+ s \([\d.]+ [KMG]?i?B/s\)", r.Err);
        // tokenizer/vocab.json and tokenizer_2/vocab.json are one blob: one is fetched, the other waits for it.
        Assert.Single(Server.Requests("GET", "vocab.json"));
        Assert.True(File.Exists(Path.Combine(snapshot, "tokenizer_2", "vocab.json")));

        var again = CliRunner.Run("download", Tiny);
        Assert.Equal(snapshot, again.Out.Trim());
        Assert.DoesNotContain("download:", again.Err); // all cached: nothing to show
    }

    [Fact]
    public void DownloadOneFileAtARevision()
    {
        using var env = HubEnvironment();
        var commit = Server.CommitOf("test-org/lcm-lora");
        var r = CliRunner.Run("download", "test-org/lcm-lora", "--file", "pytorch_lora_weights.safetensors", "--revision", commit, "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var path = doc.RootElement.GetProperty("path").GetString()!;
        Assert.Equal(Path.Combine(RepoFolder("test-org/lcm-lora"), "snapshots", commit, "pytorch_lora_weights.safetensors"), path);
        Assert.Equal(File.ReadAllBytes(Fixtures.Path("lora", "lora_b.safetensors")), File.ReadAllBytes(path));
        Assert.Empty(Server.Requests("HEAD", "README.md"));
    }

    [Fact]
    public void GenerateFromARepoIdDownloadsOnceAndReproducesTheReferenceImage()
    {
        using var env = HubEnvironment(); // snapshot entries are relative symlinks into blobs/, as huggingface_hub makes them
        string[] args = ["generate", "--model", Tiny, "--lora", "test-org/lcm-lora:0.0", "--seed", "2024", "--dtype", "fp32", "--prompt", "a lighthouse on a cliff at sunset",
            "--width", "48", "--height", "32", "--save-tensor", TempPath("x.safetensors"), "--out", TempPath("x.png"), "--force"];
        var r = CliRunner.Run(args);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("pytorch_lora_weights.safetensors (weight 0)", r.Err);
        using (var ours = SafeTensorsFile.Open(TempPath("x.safetensors")))
        using (var reference = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", "seed_path", "data.safetensors")))
            TensorAssert.CloseAbs(reference.Read("image"), ours.Read("image"), 1e-3);
        var fetched = Server.Log.Count(l => l.Method == "GET" && l.ToCdn);

        var again = CliRunner.Run([.. args, "--force"]);
        Assert.True(again.ExitCode == 0, again.Err);
        Assert.Equal(fetched, Server.Log.Count(l => l.Method == "GET" && l.ToCdn));
    }

    [Fact]
    public void FuseTakesRepoIdsForTheModelAndTheLorasAndGivesTheReferenceCheckpoint()
    {
        using var env = HubEnvironment();
        var output = TempPath("fused.safetensors");
        var r = CliRunner.Run("fuse", "--model", "test-org/tiny-sdxl-single/tiny_sdxl_sgm.safetensors", "--lora", "test-org/lcm-lora:1.0",
            "--lora", "test-org/style-lora:0.8", "--out", output, "--json", "--config", Fixtures.TinyConfigDir);
        Assert.True(r.ExitCode == 0, r.Err);
        using var fused = SafeTensorsFile.Open(output);
        using var expected = SafeTensorsFile.Open(Fixtures.Path("lora", "fused_single_file", "changed_tensors.safetensors"));
        foreach (var t in expected.Tensors) TensorAssert.Close(expected.Read(t.Name), fused.Read(t.Name), 1e-5, t.Name);
    }

    [Fact]
    public void InspectTakesARepoIdAndReadsSnapshotCopiesToo()
    {
        using var env = HubEnvironment(symlinks: false); // HF_HUB_DISABLE_SYMLINKS: copies, as on Windows without the privilege
        var r = CliRunner.Run("inspect", "test-org/tiny-sdxl-single", "--json", "--config", Fixtures.TinyConfigDir);
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var file = doc.RootElement.GetProperty("path").GetString()!;
        Assert.Equal("tiny_sdxl_sgm.safetensors", Path.GetFileName(file));
        Assert.Null(new FileInfo(file).LinkTarget);
    }

    [Fact]
    public void OfflineWithAnEmptyCacheSaysWhatIsMissingWithoutARequest()
    {
        using var env = HubEnvironment(offline: true);
        var r = CliRunner.Run("generate", "--model", Tiny, "--prompt", "x", "--out", TempPath("x.png"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{Tiny} (revision main) is not in the Hugging Face cache {Cache}, and HF_HUB_OFFLINE is set", r.Err);
        Assert.Empty(Server.Log);
    }

    [Fact]
    public void AGatedRepoAsksForTheLicenceAndATokenAndWorksWithOne()
    {
        using (HubEnvironment())
        {
            var r = CliRunner.Run("download", "test-org/gated-lora");
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("gated model", r.Err);
            Assert.Contains("set HF_TOKEN", r.Err);
        }
        Directory.CreateDirectory(TempPath("hf-home"));
        File.WriteAllText(Path.Combine(TempPath("hf-home"), "token"), Server.Token + "\n"); // the file huggingface-cli login writes
        using (HubEnvironment())
        {
            var r = CliRunner.Run("download", "test-org/gated-lora", "--quiet");
            Assert.True(r.ExitCode == 0, r.Err);
        }
    }

    [Fact]
    public void AMissingRepoIsBadInputAndACorruptDownloadIsADownloadFailure()
    {
        using var env = HubEnvironment();
        var missing = CliRunner.Run("generate", "--model", "test-org/no-such-model", "--prompt", "x", "--out", TempPath("x.png"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("repository test-org/no-such-model not found", missing.Err);

        Server.Corrupt["pytorch_lora_weights.safetensors"] = true;
        var corrupt = CliRunner.Run("download", "test-org/lcm-lora", "--quiet");
        Assert.Equal(3, corrupt.ExitCode);
        Assert.Contains("the download is corrupt", corrupt.Err);
    }
}
