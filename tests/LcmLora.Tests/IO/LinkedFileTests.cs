using System.Diagnostics;
using System.Runtime.InteropServices;
using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Pipelines;
using LcmLora.Pipelines.Decoding;
using LcmLora.Tests.Cli;
using Xunit;

namespace LcmLora.Tests.IO;

/// <summary>
/// Weights reached through links: absolute and relative symbolic links, hard links, and the Hugging Face cache's
/// layout (<c>snapshots/&lt;commit&gt;/file -&gt; ../../blobs/&lt;hash&gt;</c>). A symbolic link's own size is the length
/// of its target path, far smaller than the file: sizing the mapping from it read past the mapping (a crash).
/// </summary>
[Trait("Category", "parity")]
public class LinkedFileTests : TempDirectoryTest
{
    public enum LinkKind { Absolute, Relative, Hard, HubCache }

    private static string Sgm => Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors");

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int HardLink(string existing, string created);

    /// <summary>Makes <paramref name="name"/> in a fresh folder reach <paramref name="target"/> the given way; returns its path.</summary>
    private string Link(LinkKind kind, string target, string name)
    {
        var dir = Directory.CreateDirectory(TempPath(kind + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var path = Path.Combine(dir, name);
        switch (kind)
        {
            case LinkKind.Absolute:
                File.CreateSymbolicLink(path, Path.GetFullPath(target));
                break;
            case LinkKind.Relative:
                File.CreateSymbolicLink(path, Path.GetRelativePath(dir, Path.GetFullPath(target)));
                break;
            case LinkKind.Hard:
                var copy = Path.Combine(dir, "original-" + name);
                File.Copy(target, copy); // a hard link must stay on one file system: link to a copy in the temp folder
                Assert.True(HardLink(copy, path) == 0, $"link() failed: errno {Marshal.GetLastPInvokeError()}");
                break;
            case LinkKind.HubCache:
                return HubCache.Add(dir, "acme/thing", new() { [name] = target });
        }
        return path;
    }

    [Theory]
    [InlineData(LinkKind.Absolute)]
    [InlineData(LinkKind.Relative)]
    [InlineData(LinkKind.Hard)]
    [InlineData(LinkKind.HubCache)]
    public void EveryTensorReadsThroughALinkAsFromTheFile(LinkKind kind)
    {
        foreach (var file in new[] { Sgm, Fixtures.Path("lora", "lora_a.safetensors"), Fixtures.Path("taesd", "original", "taesdxl_decoder.safetensors") })
        {
            var link = Link(kind, file, Path.GetFileName(file));
            using var linked = SafeTensorsFile.Open(link);
            using var direct = SafeTensorsFile.Open(file);
            Assert.Equal(direct.Tensors.Select(t => t.Name), linked.Tensors.Select(t => t.Name));
            foreach (var t in direct.Tensors)
            {
                Assert.True(direct.RawBytes(t.Name).SequenceEqual(linked.RawBytes(t.Name)), $"{link}: {t.Name}");
                using var a = direct.Read(t.Name);
                using var b = linked.Read(t.Name);
                TensorAssert.Identical(a, b);
            }
        }
    }

    [Theory]
    [InlineData(LinkKind.HubCache, false)]
    [InlineData(LinkKind.HubCache, true)]
    [InlineData(LinkKind.Relative, true)]
    public void ACheckpointALoraAndDecodersLoadThroughLinks(LinkKind kind, bool singleFile)
    {
        string model;
        if (singleFile) model = Link(kind, Sgm, "model.safetensors");
        else model = HubCache.AddFolder(TempPath("hub"), "acme/tiny-sdxl", Fixtures.Path("tiny-sdxl", "diffusers"));
        var configDir = singleFile ? Fixtures.TinyConfigDir : null; // the tiny model's open config fields (8-wide heads)
        using var checkpoint = SdxlCheckpoint.Open(model, configDir: configDir);
        Assert.All(checkpoint.Inspect(), report => Assert.True(report.IsComplete, report.ToString()));

        using var pipeline = SdxlPipeline.Load(model, new PipelineOptions { ConfigDir = configDir, Precision = LcmLora.Runtime.ComputePrecision.Float32 });
        var request = new GenerationRequest { Prompt = "a lighthouse on a cliff at sunset", Seed = 2024, Width = 48, Height = 32, ReturnTensors = true };
        using (var result = pipeline.Generate(request))
        using (var reference = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", "seed_path", "data.safetensors")))
            TensorAssert.CloseAbs(reference.Read("image"), result.ImageTensor!, 1e-3);

        pipeline.Loras.Add("a", Link(kind, Fixtures.Path("lora", "lora_a.safetensors"), "lora_a.safetensors"));
        pipeline.Loras.Fuse();
        pipeline.Loras.Unfuse();

        var vae = kind == LinkKind.HubCache
            ? HubCache.AddFolder(TempPath("hub"), "acme/vae", Fixtures.Path("tiny-sdxl", "diffusers", "vae"))
            : Link(kind, Fixtures.Path("tiny-sdxl", "diffusers", "vae", "diffusion_pytorch_model.safetensors"), "vae.safetensors");
        if (kind != LinkKind.HubCache) File.Copy(Fixtures.Path("tiny-sdxl", "diffusers", "vae", "config.json"), Path.Combine(Path.GetDirectoryName(vae)!, "config.json"));
        Assert.IsType<VaeLatentDecoder>(LatentDecoders.Load(vae));
        var taesd = kind == LinkKind.HubCache
            ? HubCache.AddFolder(TempPath("hub"), "acme/taesd", Fixtures.Path("taesd", "original"))
            : Link(kind, Fixtures.Path("taesd", "diffusers", "diffusion_pytorch_model.safetensors"), "diffusion_pytorch_model.safetensors");
        Assert.IsType<TaesdLatentDecoder>(LatentDecoders.Load(taesd));
    }

    [Fact]
    public async Task AFifoIsRefusedWithoutBlocking()
    {
        var fifo = TempPath("pipe.safetensors");
        using (var mk = Process.Start("mkfifo", [fifo])) await mk.WaitForExitAsync();
        var open = Task.Run(() => Assert.ThrowsAny<LcmLoraInputException>(() => SafeTensorsFile.Open(fifo)));
        Assert.True(await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(20))) == open, "opening a FIFO blocked");
        Assert.Contains("not a regular file", (await open).Message);
        var link = TempPath("link.safetensors");
        File.CreateSymbolicLink(link, fifo);
        var viaLink = Task.Run(() => Assert.ThrowsAny<LcmLoraInputException>(() => SafeTensorsFile.Open(link)));
        Assert.True(await Task.WhenAny(viaLink, Task.Delay(TimeSpan.FromSeconds(20))) == viaLink, "opening a link to a FIFO blocked");
    }

    [Fact]
    public void LinkLoopsFoldersAndDanglingLinksAreBadInput()
    {
        File.CreateSymbolicLink(TempPath("a.safetensors"), "b.safetensors");
        File.CreateSymbolicLink(TempPath("b.safetensors"), "a.safetensors");
        var loop = Assert.ThrowsAny<LcmLoraInputException>(() => SafeTensorsFile.Open(TempPath("a.safetensors")));
        Assert.Contains("a.safetensors", loop.Message);

        Directory.CreateDirectory(TempPath("dir.safetensors"));
        var folder = Assert.ThrowsAny<LcmLoraInputException>(() => SafeTensorsFile.Open(TempPath("dir.safetensors")));
        Assert.Contains("is a folder", folder.Message);

        File.CreateSymbolicLink(TempPath("dangling.safetensors"), "nowhere.safetensors");
        var dangling = Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(TempPath("dangling.safetensors")));
        Assert.Contains("dangling.safetensors", dangling.Message);
    }

    [Fact]
    public void TheCliFusesAndInspectsThroughLinks()
    {
        var model = Link(LinkKind.Absolute, Sgm, "abs.safetensors");
        var loraB = Link(LinkKind.Relative, Fixtures.Path("lora", "lora_b.safetensors"), "b.safetensors");
        var loraA = Link(LinkKind.HubCache, Fixtures.Path("lora", "lora_a.safetensors"), "lora_a.safetensors");
        var output = TempPath("fused.safetensors");
        var r = CliRunner.Run("fuse", "--model", model, "--lora", loraB + ":1.0", "--lora", loraA + ":0.8", "--out", output, "--config", Fixtures.TinyConfigDir);
        Assert.True(r.ExitCode == 0, r.Err);
        using (var fused = SafeTensorsFile.Open(output))
        using (var expected = SafeTensorsFile.Open(Fixtures.Path("lora", "fused_single_file", "changed_tensors.safetensors")))
            foreach (var t in expected.Tensors) TensorAssert.Close(expected.Read(t.Name), fused.Read(t.Name), 1e-5, t.Name);

        var inspect = CliRunner.Run("inspect", loraA, "--json");
        Assert.True(inspect.ExitCode == 0, inspect.Err);
    }

    [Fact]
    public void TheCliGeneratesFromARepoIdInTheHubCacheWithLinkedLoraAndTaesd()
    {
        var hub = TempPath("hub");
        HubCache.AddFolder(hub, "acme/tiny-sdxl", Fixtures.Path("tiny-sdxl", "diffusers"));
        HubCache.AddFolder(hub, "acme/lora", Fixtures.Path("lora"), "lora_a.safetensors");
        var taesd = HubCache.AddFolder(hub, "acme/taesd", Fixtures.Path("taesd", "diffusers"));
        var saved = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
        try
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", hub);
            var r = CliRunner.Run("generate", "--model", "acme/tiny-sdxl", "--seed", "2024", "--dtype", "fp32", "--prompt", "a lighthouse on a cliff at sunset",
                "--width", "48", "--height", "32", "--save-tensor", TempPath("x.safetensors"), "--out", TempPath("x.png"), "--quiet");
            Assert.True(r.ExitCode == 0, r.Err);
            using (var ours = SafeTensorsFile.Open(TempPath("x.safetensors")))
            using (var reference = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", "seed_path", "data.safetensors")))
                TensorAssert.CloseAbs(reference.Read("image"), ours.Read("image"), 1e-3);

            var withLora = CliRunner.Run("generate", "--model", "acme/tiny-sdxl", "--lora", "acme/lora", "--vae", taesd, "--seed", "1",
                "--prompt", "x", "--width", "32", "--height", "32", "--out", TempPath("l.png"), "--quiet");
            Assert.True(withLora.ExitCode == 0, withLora.Err);
            Assert.True(new FileInfo(TempPath("l.png")).Length > 0);
        }
        finally { Environment.SetEnvironmentVariable("HF_HUB_CACHE", saved); }
    }
}

/// <summary>Builds a Hugging Face hub cache the way huggingface_hub does: content in blobs/, relative links in snapshots/.</summary>
internal static class HubCache
{
    /// <summary>Adds files (relative path -> source) to repo <paramref name="repoId"/>; returns the snapshot path of the first.</summary>
    public static string Add(string hub, string repoId, Dictionary<string, string> files)
    {
        var repo = Path.Combine(hub, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal));
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        var snapshot = Path.Combine(repo, "snapshots", commit);
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        string? first = null;
        foreach (var (relative, source) in files)
        {
            var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(source)));
            var blob = Path.Combine(repo, "blobs", hash);
            if (!File.Exists(blob)) File.Copy(source, blob);
            var link = Path.Combine(snapshot, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(link)!);
            File.CreateSymbolicLink(link, Path.GetRelativePath(Path.GetDirectoryName(link)!, blob));
            first ??= link;
        }
        return first!;
    }

    /// <summary>Adds every file under <paramref name="folder"/> (or only <paramref name="only"/>); returns the snapshot folder.</summary>
    public static string AddFolder(string hub, string repoId, string folder, string? only = null)
    {
        var files = Directory.EnumerateFiles(folder, only ?? "*", only is null ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .ToDictionary(f => Path.GetRelativePath(folder, f), f => f);
        var link = Add(hub, repoId, files);
        var relative = files.Keys.First();
        var snapshot = link[..^relative.Length].TrimEnd(Path.DirectorySeparatorChar);
        return snapshot;
    }
}
