using LcmLora.Runtime;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Runtime;

[Trait("Category", "unit")]
public class NativeRuntimeTests
{
    [Fact]
    public void TorchSharpLoadsAndRunsCoreOps()
    {
        NativeRuntime.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(seed: 1);
        var a = torch.randn(new long[] { 4, 4 }, generator: gen);
        var b = torch.mm(a, a.t());
        Assert.Equal(new long[] { 4, 4 }, b.shape);
        var x = torch.randn(1, 2, 8, 8);
        var w = torch.randn(3, 2, 3, 3);
        Assert.Equal(new long[] { 1, 3, 8, 8 }, torch.nn.functional.conv2d(x, w, padding: new long[] { 1, 1 }).shape);
        var q = torch.randn(1, 2, 5, 4);
        var o = torch.nn.functional.scaled_dot_product_attention(q, q, q);
        Assert.Equal(q.shape, o.shape);
    }

    [Fact]
    public void EveryTorchSharpCopyInOutputIsUsableOnThisHost()
    {
        NativeRuntime.EnsureInitialized();
        if (!OperatingSystem.IsLinux() || NativeRuntime.HostHasRequiredLibStdCxx()) return;
        var copies = NativeRuntime.CandidateDirectories().Select(d => Path.Combine(d, "libLibTorchSharp.so")).Where(File.Exists).ToList();
        Assert.NotEmpty(copies);
        foreach (var copy in copies)
        {
            var need = ElfVersionNeeds.Read(copy).Single(n => n.Name == "GLIBCXX_3.4.32");
            Assert.Equal(ElfVersionNeeds.VerFlagWeak, need.Flags & ElfVersionNeeds.VerFlagWeak);
        }
    }

    [Fact]
    public void MarkWeakIsIdempotentAndTouchesOnlyTheNamedVersion()
    {
        var source = NativeRuntime.CandidateDirectories().Select(d => Path.Combine(d, "libLibTorchSharp.so")).FirstOrDefault(File.Exists);
        if (source is null) return; // not a Linux build
        var copy = Path.Combine(Path.GetTempPath(), $"elf-{Guid.NewGuid():N}.so");
        File.Copy(source, copy);
        try
        {
            // Start from an unpatched state to prove the patch does something.
            var before = File.ReadAllBytes(copy);
            var needs = ElfVersionNeeds.Read(copy);
            Assert.Contains(needs, n => n.Name == "GLIBCXX_3.4.32");
            ElfVersionNeeds.MarkWeak(copy, "GLIBCXX_3.4.32");
            Assert.False(ElfVersionNeeds.MarkWeak(copy, "GLIBCXX_3.4.32"));
            var after = ElfVersionNeeds.Read(copy);
            Assert.Equal(needs.Count, after.Count);
            for (var i = 0; i < needs.Count; i++)
            {
                Assert.Equal(needs[i].Name, after[i].Name);
                var expected = needs[i].Name == "GLIBCXX_3.4.32" ? needs[i].Flags | ElfVersionNeeds.VerFlagWeak : needs[i].Flags;
                Assert.Equal(expected, after[i].Flags);
            }
            var bytesAfter = File.ReadAllBytes(copy);
            Assert.Equal(before.Length, bytesAfter.Length);
            Assert.True(before.Zip(bytesAfter).Count(p => p.First != p.Second) <= 1);
        }
        finally { File.Delete(copy); }
    }

    [Fact]
    public void MarkWeakReplacesAHardLinkInsteadOfWritingThroughIt()
    {
        // Built with CreateHardLinksForCopyLocalIfPossible, the app's copy is a hard link into the NuGet cache: writing
        // through it patched the cache's file too.
        if (!OperatingSystem.IsLinux()) return;
        var source = NativeRuntime.CandidateDirectories().Select(d => Path.Combine(d, "libLibTorchSharp.so")).FirstOrDefault(File.Exists);
        if (source is null) return; // not a Linux build
        var dir = Directory.CreateTempSubdirectory("lcmlora-link-").FullName;
        try
        {
            var cached = Path.Combine(dir, "cache.so");
            var app = Path.Combine(dir, "app.so");
            File.Copy(source, cached);
            Assert.Equal(0, link(cached, app));
            var version = ElfVersionNeeds.Read(cached).GroupBy(n => n.Name).First(g => g.Count() == 1 && (g.Single().Flags & ElfVersionNeeds.VerFlagWeak) == 0).Key;
            var before = File.ReadAllBytes(cached);
            Assert.True(ElfVersionNeeds.MarkWeak(app, version));
            Assert.Equal(before, File.ReadAllBytes(cached));
            Assert.NotEqual(0, ElfVersionNeeds.Read(app).Single(n => n.Name == version).Flags & ElfVersionNeeds.VerFlagWeak);
            Assert.Equal(File.GetUnixFileMode(cached), File.GetUnixFileMode(app));
            Assert.Equal(2, Directory.GetFiles(dir).Length);
        }
        finally { Directory.Delete(dir, true); }
    }

#pragma warning disable IDE1006, SYSLIB1054 // the C name; a plain DllImport
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int link(string oldPath, string newPath);
#pragma warning restore IDE1006, SYSLIB1054
}
