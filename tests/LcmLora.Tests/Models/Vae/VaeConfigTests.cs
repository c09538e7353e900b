using LcmLora.Models;
using System.Text.Json.Nodes;
using LcmLora.Models.Blocks;
using LcmLora.Models.Vae;
using LcmLora.Tests.Models.Unet;
using Xunit;

namespace LcmLora.Tests.Models.Vae;

[Trait("Category", "unit")]
public sealed class VaeConfigTests
{
    private static string TinyConfig => Fixtures.Path("tiny-sdxl", "diffusers", "vae", "config.json");

    [Fact]
    public void TinyConfigReadsScalingAndUpcast()
    {
        var c = VaeConfig.FromJson(TinyConfig);
        Assert.Equal(new[] { 32, 64 }, c.BlockOutChannels);
        Assert.Equal(1, c.LayersPerBlock);
        Assert.Equal(0.13025, c.ScalingFactor);
        Assert.True(c.ForceUpcast);
        Assert.Null(c.ShiftFactor);
        Assert.Null(c.LatentsMean);
        Assert.Equal(2, c.DownscaleFactor);
        Assert.Equal(32, c.SampleSize);
    }

    [Theory]
    [InlineData("scaling_factor")]
    [InlineData("block_out_channels")]
    [InlineData("latent_channels")]
    public void MissingRequiredFieldIsNamed(string field)
    {
        var ex = Assert.Throws<ModelConfigException>(() => TempConfig.ParseEdited(TinyConfig, o => o.Remove(field), VaeConfig.FromJson));
        Assert.Equal(field, ex.Field);
    }

    [Theory]
    [InlineData("act_fn", "\"relu\"")]
    [InlineData("down_block_types", "[\"DownEncoderBlock2D\", \"AttnDownEncoderBlock2D\"]")]
    [InlineData("up_block_types", "[\"UpDecoderBlock2D\"]")]
    [InlineData("block_out_channels", "[32, 48]")]
    [InlineData("latents_mean", "[0.1, 0.2]")]
    public void UnsupportedOrInconsistentValuesAreRejectedByName(string field, string json)
    {
        var ex = Assert.Throws<ModelConfigException>(() => TempConfig.ParseEdited(TinyConfig, o => o[field] = JsonNode.Parse(json), VaeConfig.FromJson));
        Assert.Equal(field, ex.Field);
    }

    [Fact]
    public void UnknownFieldsAreIgnored()
    {
        var c = TempConfig.ParseEdited(TinyConfig, o => o["some_future_option"] = 1, VaeConfig.FromJson);
        Assert.Equal(0.13025, c.ScalingFactor);
    }
}
