using LcmLora.Models.Unet;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Unet;

/// <summary>Full-size SDXL base UNet built on the meta device (no memory) against the diffusers manifest.</summary>
[Trait("Category", "unit")]
public sealed class SdxlUNetStructureTests
{
    [Fact]
    public void SdxlBaseStateDictEqualsDiffusersKeysAndShapes()
    {
        using var unet = new SdxlUNet(UNetConfig.SdxlBase, device("meta"));
        var ours = unet.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        var expected = SdxlBaseManifest.Shapes("unet");
        Assert.Empty(expected.Keys.Except(ours.Keys).Order());
        Assert.Empty(ours.Keys.Except(expected.Keys).Order());
        Assert.Empty(expected.Where(kv => !kv.Value.SequenceEqual(ours[kv.Key])).Select(kv => kv.Key));
        Assert.Equal(1680, ours.Count);
        Assert.Equal(SdxlBaseManifest.ParameterCount("unet"), unet.parameters().Sum(p => p.numel()));
        Assert.Equal(2_567_463_684L, unet.parameters().Sum(p => p.numel()));
        Assert.Empty(unet.buffers());
    }

    [Fact]
    public void ConvolutionProjectionsWhenLinearProjectionIsOff()
    {
        var config = TempConfig.ParseEdited(Fixtures.Path("tiny-sdxl", "diffusers", "unet", "config.json"),
            o => o["use_linear_projection"] = false, UNetConfig.FromJson);
        using var unet = new SdxlUNet(config);
        var shapes = unet.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(new long[] { 64, 64, 1, 1 }, shapes["down_blocks.1.attentions.0.proj_in.weight"]);
        Assert.Equal(new long[] { 64, 64, 1, 1 }, shapes["mid_block.attentions.0.proj_out.weight"]);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var result = unet.call(randn(1, 4, 8, 8), tensor(10L), randn(1, 77, 72), randn(1, 40), zeros(1, 6));
        Assert.Equal(new long[] { 1, 4, 8, 8 }, result.shape);
    }

    [Fact]
    public void ManifestConfigParsesToThePreset()
    {
        var parsed = SdxlBaseManifest.ParseConfig("unet", UNetConfig.FromJson);
        var preset = UNetConfig.SdxlBase;
        Assert.Equal(preset.BlockOutChannels, parsed.BlockOutChannels);
        Assert.Equal(preset.DownBlockTypes, parsed.DownBlockTypes);
        Assert.Equal(preset.UpBlockTypes, parsed.UpBlockTypes);
        Assert.Equal(preset.LayersPerBlock, parsed.LayersPerBlock);
        Assert.Equal(preset.TransformerLayersPerBlock, parsed.TransformerLayersPerBlock);
        Assert.Equal(preset.ReverseTransformerLayersPerBlock, parsed.ReverseTransformerLayersPerBlock);
        Assert.Equal(preset.AttentionHeads, parsed.AttentionHeads);
        Assert.Equal(preset.CrossAttentionDim, parsed.CrossAttentionDim);
        Assert.Equal(preset.AdditionTimeEmbedDim, parsed.AdditionTimeEmbedDim);
        Assert.Equal(preset.ProjectionClassEmbeddingsInputDim, parsed.ProjectionClassEmbeddingsInputDim);
        Assert.Equal(preset.UseLinearProjection, parsed.UseLinearProjection);
        Assert.Equal(preset.FlipSinToCos, parsed.FlipSinToCos);
        Assert.Equal(preset.FreqShift, parsed.FreqShift);
        Assert.Equal(preset.NormNumGroups, parsed.NormNumGroups);
        Assert.Equal(preset.NormEps, parsed.NormEps);
        Assert.Equal(preset.SampleSize, parsed.SampleSize);
        Assert.Equal(1280, parsed.TimeEmbedDim);
    }
}
