using System.Buffers.Binary;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using Xunit;

namespace LcmLora.Tests.Packaging;

/// <summary>
/// samples/LcmLora.QuickStart builds against the packed LcmLora package (not the project), gets the package's
/// module initializer and libstdc++ shim with no extra step, and turns the tiny SDXL fixture plus two LoRAs into a PNG.
/// </summary>
[Collection(PackagingCollection.Name)]
[Trait("Category", "packaging")]
public sealed class QuickStartPackageTests(PackedLcmLora package)
{
    private static string SampleDir => Path.Combine(Fixtures.RepoRoot, "samples", "LcmLora.QuickStart");

    [Fact]
    public void SampleUsesTheRepositorysTorchSharpVersion()
    {
        var central = XDocument.Load(Path.Combine(Fixtures.RepoRoot, "Directory.Packages.props"));
        var torchSharp = central.Descendants("TorchSharpVersion").Single().Value;
        var sample = XDocument.Load(Path.Combine(SampleDir, "LcmLora.QuickStart.csproj"));
        var references = sample.Descendants("PackageReference").ToDictionary(e => (string)e.Attribute("Include")!, e => (string?)e.Attribute("Version"));
        Assert.Equal(torchSharp, references["TorchSharp-cpu"]);
        Assert.Equal("$(LcmLoraPackageVersion)", references["LcmLora"]);
    }

    [Fact]
    public void QuickStartBuiltAgainstThePackageGeneratesAPng()
    {
        package.EnsurePacked();
        var appDir = Path.Combine(package.WorkDir, "quickstart");
        var build = DotnetCommand.Run(Fixtures.RepoRoot, PackedLcmLora.BuildTimeout,
            "build", "samples/LcmLora.QuickStart/LcmLora.QuickStart.csproj", "-o", appDir, "-nodeReuse:false",
            $"-p:LcmLoraPackageVersion={package.Version}", $"-p:RestoreAdditionalProjectSources={package.Feed}");
        Assert.True(build.Succeeded, "building the QuickStart against the package failed:\n" + build.Describe());

        // The app got what the package carries: LcmLora.dll from the package, the shim, and the module initializer.
        var assets = File.ReadAllText(Path.Combine(SampleDir, "obj", "project.assets.json"));
        Assert.Contains($"\"LcmLora/{package.Version}\"", assets);
        Assert.True(File.Exists(Path.Combine(appDir, "runtimes", "linux-x64", "native", "libLcmLoraStdcxxShim.so")),
            "the package's libstdc++ shim was not copied to the app output");
        Assert.True(HasModuleInitializer(Path.Combine(appDir, "LcmLora.QuickStart.dll")),
            "buildTransitive/LcmLora.targets did not compile the LcmLora module initializer into the app");

        var usage = DotnetCommand.Run(appDir, TimeSpan.FromMinutes(2), Path.Combine(appDir, "LcmLora.QuickStart.dll"));
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("usage: LcmLora.QuickStart", usage.Output);

        var png = Path.Combine(package.WorkDir, "out.png");
        var run = DotnetCommand.Run(appDir, TimeSpan.FromMinutes(4), Path.Combine(appDir, "LcmLora.QuickStart.dll"),
            Fixtures.Path("tiny-sdxl", "diffusers"),
            Fixtures.Path("lora", "lora_b.safetensors"),
            Fixtures.Path("lora", "lora_a.safetensors"),
            "a lighthouse at dawn, watercolor", png, "32");
        Assert.True(run.Succeeded, "the QuickStart run failed:\n" + run.Describe());
        Assert.True(File.Exists(png), $"no PNG written:\n{run.Describe()}");

        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "not a PNG");
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(32, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4)));
        Assert.Equal(32, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20, 4)));
        Assert.Contains("32x32, seed 42", run.Output);
    }

    private static bool HasModuleInitializer(string assembly)
    {
        using var pe = new PEReader(File.OpenRead(assembly));
        var reader = pe.GetMetadataReader();
        return reader.TypeDefinitions.Select(reader.GetTypeDefinition).Any(t =>
            reader.GetString(t.Namespace) == "LcmLora.Generated" && reader.GetString(t.Name) == "LcmLoraNativeRuntimeInitializer");
    }
}
