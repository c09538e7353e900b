using LcmLora.Models.Vae;
using LcmLora.Tests.Models.Unet;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Vae;

/// <summary>Full-size SDXL base VAE built on the meta device (no memory) against the diffusers manifest.</summary>
[Trait("Category", "unit")]
public sealed class AutoencoderKLStructureTests
{
    [Fact]
    public void SdxlBaseStateDictEqualsDiffusersKeysAndShapes()
    {
        using var vae = new AutoencoderKL(VaeConfig.SdxlBase, device("meta"));
        var ours = vae.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        var expected = SdxlBaseManifest.Shapes("vae");
        Assert.Empty(expected.Keys.Except(ours.Keys).Order());
        Assert.Empty(ours.Keys.Except(expected.Keys).Order());
        Assert.Empty(expected.Where(kv => !kv.Value.SequenceEqual(ours[kv.Key])).Select(kv => kv.Key));
        Assert.Equal(248, ours.Count);
        Assert.Equal(SdxlBaseManifest.ParameterCount("vae"), vae.parameters().Sum(p => p.numel()));
        Assert.Equal(83_653_863L, vae.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void ManifestConfigParsesToThePreset()
    {
        var parsed = SdxlBaseManifest.ParseConfig("vae", VaeConfig.FromJson);
        var preset = VaeConfig.SdxlBase;
        Assert.Equal(preset.BlockOutChannels, parsed.BlockOutChannels);
        Assert.Equal(preset.DownBlockTypes, parsed.DownBlockTypes);
        Assert.Equal(preset.UpBlockTypes, parsed.UpBlockTypes);
        Assert.Equal(preset.LayersPerBlock, parsed.LayersPerBlock);
        Assert.Equal(preset.LatentChannels, parsed.LatentChannels);
        Assert.Equal(preset.NormNumGroups, parsed.NormNumGroups);
        Assert.Equal(preset.SampleSize, parsed.SampleSize);
        Assert.Equal(0.13025, parsed.ScalingFactor);
        Assert.True(parsed.ForceUpcast);
        Assert.Null(parsed.ShiftFactor);
        Assert.Equal(8, parsed.DownscaleFactor);
    }
}
