using System.IO.Compression;
using System.Reflection.Metadata;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Xunit;

namespace LcmLora.Tests.Packaging;

/// <summary>What `dotnet pack src/LcmLora` puts in LcmLora.nupkg/.snupkg: assemblies and docs, README, licence,
/// metadata, dependencies (never a TorchSharp backend), SourceLink, and the native-load fix for consumers.</summary>
[Collection(PackagingCollection.Name)]
[Trait("Category", "packaging")]
public sealed class PackageContentTests(PackedLcmLora package)
{
    private static readonly string[] RequiredEntries =
    [
        "lib/net8.0/LcmLora.dll",
        "lib/net8.0/LcmLora.xml",
        "README.md",
        "buildTransitive/LcmLora.targets",
        "buildTransitive/LcmLoraModuleInitializer.cs",
        "runtimes/linux-x64/native/libLcmLoraStdcxxShim.so",
    ];

    [Fact]
    public void PackageHoldsAssemblyDocsReadmeLicenceAndNativeLoadFix()
    {
        package.EnsurePacked();
        using var zip = ZipFile.OpenRead(package.Nupkg);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (var entry in RequiredEntries)
            Assert.True(names.Contains(entry), $"{entry} missing from the package; it has:\n{string.Join("\n", names.Order())}");

        Assert.Equal(File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "src", "LcmLora", "PACKAGE.md")), ReadText(zip, "README.md"));
        Assert.Contains("<member name=\"T:LcmLora.Pipelines.SdxlPipeline\">", ReadText(zip, "lib/net8.0/LcmLora.xml"));

        var targets = ReadText(zip, "buildTransitive/LcmLora.targets");
        Assert.Contains("LcmLoraModuleInitializer.cs", targets);
        var initializer = ReadText(zip, "buildTransitive/LcmLoraModuleInitializer.cs");
        Assert.Contains("ModuleInitializer", initializer);
        Assert.Contains("LcmLora.Runtime.NativeRuntime.TryInitialize()", initializer);

        // The shim is a compiled ELF shared object defining std::ios_base_library_init().
        var shim = ReadBytes(zip, "runtimes/linux-x64/native/libLcmLoraStdcxxShim.so");
        Assert.True(shim.Length > 1000 && shim.AsSpan(0, 4).SequenceEqual(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }),
            "the packed shim is not an ELF file");
        Assert.True(shim.AsSpan().IndexOf("_ZSt21ios_base_library_initv"u8) >= 0, "the packed shim does not define std::ios_base_library_init()");

        // Nothing of the build machinery leaks in (SourceLink is a private build-time dependency).
        Assert.DoesNotContain(names, n => n.EndsWith(".pdb", StringComparison.Ordinal));
    }

    [Fact]
    public void NuspecHasIdentityLicenceRepositoryTagsAndOnlyBindingDependencies()
    {
        package.EnsurePacked();
        using var zip = ZipFile.OpenRead(package.Nupkg);
        var nuspec = XDocument.Parse(ReadText(zip, "LcmLora.nuspec"));
        var ns = nuspec.Root!.Name.Namespace;
        var meta = nuspec.Root.Element(ns + "metadata")!;
        string? Value(string name) => meta.Element(ns + name)?.Value;

        Assert.Equal("LcmLora", Value("id"));
        Assert.Equal(package.Version, Value("version"));
        Assert.False(string.IsNullOrWhiteSpace(Value("description")));
        Assert.Equal("README.md", Value("readme"));
        Assert.Equal("https://github.com/lcmlora/LcmLora", Value("projectUrl"));

        var license = meta.Element(ns + "license");
        Assert.NotNull(license);
        var licenseType = (string?)license.Attribute("type");
        if (licenseType == "expression") Assert.Equal("MIT", license.Value);
        else
        {
            Assert.Equal("file", licenseType);
            Assert.Contains("MIT License", ReadText(zip, license.Value));
        }

        var repository = meta.Element(ns + "repository");
        Assert.NotNull(repository);
        Assert.Equal("git", (string?)repository.Attribute("type"));
        Assert.Equal("https://github.com/lcmlora/LcmLora", (string?)repository.Attribute("url"));
        var commit = (string?)repository.Attribute("commit");
        if (commit is not null) Assert.Matches("^[0-9a-f]{40}$", commit);

        var tags = (Value("tags") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var tag in new[] { "stable-diffusion", "sdxl", "lcm", "lora", "torchsharp", "diffusion", "image-generation" })
            Assert.Contains(tag, tags);

        var dependencies = meta.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).ToList();
        Assert.Equal(
            new[] { "Microsoft.ML.Tokenizers", "SkiaSharp", "SkiaSharp.NativeAssets.Linux", "TorchSharp" },
            dependencies.Distinct().Order(StringComparer.Ordinal).ToArray());
        // The app chooses the backend: never TorchSharp-cpu/-cuda-* or libtorch-* here.
        Assert.DoesNotContain(dependencies, d => d.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase) ||
                                                 d.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void SymbolPackageHasPdbWithSourceLinkToTheRepository()
    {
        package.EnsurePacked();
        Assert.True(File.Exists(package.Snupkg), $"{package.Snupkg} was not created");
        using var zip = ZipFile.OpenRead(package.Snupkg);
        using var pdb = new MemoryStream(ReadBytes(zip, "lib/net8.0/LcmLora.pdb"));
        using var provider = MetadataReaderProvider.FromPortablePdbStream(pdb);
        var reader = provider.GetMetadataReader();
        var sourceLinkKind = new Guid("CC110556-A091-4D38-9FEC-25AB9A351A6A");
        var sourceLink = reader.CustomDebugInformation
            .Select(reader.GetCustomDebugInformation)
            .Where(c => reader.GetGuid(c.Kind) == sourceLinkKind)
            .Select(c => Encoding.UTF8.GetString(reader.GetBlobBytes(c.Value)))
            .SingleOrDefault();
        Assert.NotNull(sourceLink);
        var documents = JsonDocument.Parse(sourceLink).RootElement.GetProperty("documents");
        Assert.Contains(documents.EnumerateObject(), d =>
            d.Value.GetString()!.StartsWith("https://raw.githubusercontent.com/", StringComparison.Ordinal));
    }

    [Fact]
    public void PackWithoutBuildStillCarriesTheShim()
    {
        package.EnsurePacked(); // leaves a Release build to pack from
        var feed = Path.Combine(package.WorkDir, "no-build");
        var result = DotnetCommand.Run(Fixtures.RepoRoot, PackedLcmLora.BuildTimeout,
            "pack", "src/LcmLora", "-c", "Release", "--no-build", "-o", feed, $"-p:Version={package.Version}", "-nodeReuse:false");
        Assert.True(result.Succeeded, "dotnet pack --no-build failed:\n" + result.Describe());
        using var zip = ZipFile.OpenRead(Path.Combine(feed, $"LcmLora.{package.Version}.nupkg"));
        Assert.NotNull(zip.GetEntry("runtimes/linux-x64/native/libLcmLoraStdcxxShim.so"));
        Assert.NotNull(zip.GetEntry("buildTransitive/LcmLora.targets"));
    }

    [Fact]
    public void DefaultPackageIdentityIsLcmLora010()
    {
        var result = DotnetCommand.Run(Fixtures.RepoRoot, TimeSpan.FromMinutes(3),
            "msbuild", "src/LcmLora/LcmLora.csproj", "-getProperty:PackageId", "-getProperty:Version", "-getProperty:PackageLicenseExpression", "-p:Configuration=Release");
        Assert.True(result.Succeeded, result.Describe());
        var json = result.Output[result.Output.IndexOf('{')..];
        var props = JsonDocument.Parse(json).RootElement.GetProperty("Properties");
        Assert.Equal("LcmLora", props.GetProperty("PackageId").GetString());
        Assert.Equal("0.1.0", props.GetProperty("Version").GetString());
        Assert.Equal("MIT", props.GetProperty("PackageLicenseExpression").GetString());
    }

    private static byte[] ReadBytes(ZipArchive zip, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new Xunit.Sdk.XunitException($"{name} missing from the package");
        using var stream = entry.Open();
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    private static string ReadText(ZipArchive zip, string name) => Encoding.UTF8.GetString(ReadBytes(zip, name)).TrimStart('\uFEFF');
}
