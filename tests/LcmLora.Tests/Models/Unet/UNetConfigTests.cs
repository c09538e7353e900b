using LcmLora.Models;
using System.Text.Json.Nodes;
using LcmLora.Models.Blocks;
using LcmLora.Models.Unet;
using Xunit;

namespace LcmLora.Tests.Models.Unet;

[Trait("Category", "unit")]
public sealed class UNetConfigTests
{
    private static string TinyConfig => Fixtures.Path("tiny-sdxl", "diffusers", "unet", "config.json");

    private static ModelConfigException Rejects(Action<JsonObject> edit) =>
        Assert.Throws<ModelConfigException>(() => TempConfig.ParseEdited(TinyConfig, edit, UNetConfig.FromJson));

    [Fact]
    public void TinyConfigExpandsPerBlockSettings()
    {
        var c = UNetConfig.FromJson(TinyConfig);
        Assert.Equal(new[] { 32, 64 }, c.BlockOutChannels);
        Assert.Equal(new[] { 2, 4 }, c.AttentionHeads); // attention_head_dim is read as the number of heads
        Assert.Equal(new[] { 72, 72 }, c.CrossAttentionDim);
        Assert.Equal(new[] { 2, 2 }, c.LayersPerBlock);
        Assert.Equal(new[] { new[] { 1, 1 }, new[] { 2, 2 } }, c.TransformerLayersPerBlock);
        Assert.Equal(new[] { new[] { 2, 2, 2 }, new[] { 1, 1, 1 } }, c.ReverseTransformerLayersPerBlock);
        Assert.Equal(8, c.AdditionTimeEmbedDim);
        Assert.Equal(88, c.ProjectionClassEmbeddingsInputDim);
        Assert.Equal(128, c.TimeEmbedDim);
        Assert.True(c.UseLinearProjection);
        Assert.True(c.FlipSinToCos);
        Assert.Equal(0, c.FreqShift);
    }

    [Fact]
    public void MissingRequiredFieldIsNamed()
    {
        var ex = Rejects(o => o.Remove("block_out_channels"));
        Assert.Equal("block_out_channels", ex.Field);
        Assert.EndsWith("config.json", ex.File);
        Assert.Contains("block_out_channels", ex.Message);
    }

    [Theory]
    [InlineData("class_embed_type", "\"timestep\"")]
    [InlineData("num_attention_heads", "[2, 4]")]
    [InlineData("addition_embed_type", "\"text\"")]
    [InlineData("encoder_hid_dim", "1024")]
    [InlineData("resnet_time_scale_shift", "\"scale_shift\"")]
    [InlineData("dual_cross_attention", "true")]
    [InlineData("only_cross_attention", "[false, true]")]
    [InlineData("time_embedding_type", "\"fourier\"")]
    [InlineData("mid_block_type", "\"UNetMidBlock2DSimpleCrossAttn\"")]
    [InlineData("norm_num_groups", "null")]
    public void UnsupportedValuesAreRejectedByName(string field, string json)
    {
        var ex = Rejects(o => o[field] = JsonNode.Parse(json));
        Assert.Equal(field, ex.Field);
    }

    [Theory]
    [InlineData("attention_head_dim", "[2, 4, 8]")]
    [InlineData("down_block_types", "[\"DownBlock2D\", \"AttnDownBlock2D\"]")]
    [InlineData("up_block_types", "[\"CrossAttnUpBlock2D\"]")]
    [InlineData("attention_head_dim", "[2, 5]")]
    [InlineData("layers_per_block", "\"two\"")]
    [InlineData("transformer_layers_per_block", "[[1, 1], [2, 3]]")]
    public void InconsistentValuesAreRejectedByName(string field, string json)
    {
        var ex = Rejects(o => o[field] = JsonNode.Parse(json));
        Assert.Contains(ex.Field, new[] { field, "reverse_transformer_layers_per_block" });
    }

    [Fact]
    public void PerLayerTransformerDepthsNeedTheReverseList()
    {
        var c = TempConfig.ParseEdited(TinyConfig, o =>
        {
            o["transformer_layers_per_block"] = JsonNode.Parse("[[1, 1], [2, 3]]");
            o["reverse_transformer_layers_per_block"] = JsonNode.Parse("[[3, 2, 2], [1, 1, 1]]");
        }, UNetConfig.FromJson);
        Assert.Equal(new[] { 2, 3 }, c.TransformerLayersPerBlock[1]);
        Assert.Equal(new[] { 3, 2, 2 }, c.ReverseTransformerLayersPerBlock[0]);
    }

    [Fact]
    public void IntegerSettingsApplyToEveryBlock()
    {
        var c = TempConfig.ParseEdited(TinyConfig, o =>
        {
            o["attention_head_dim"] = 4;
            o["transformer_layers_per_block"] = 3;
        }, UNetConfig.FromJson);
        Assert.Equal(new[] { 4, 4 }, c.AttentionHeads);
        Assert.Equal(new[] { new[] { 3, 3 }, new[] { 3, 3 } }, c.TransformerLayersPerBlock);
    }

    [Fact]
    public void MalformedFileIsRejected()
    {
        var ex = Assert.Throws<ModelConfigException>(() => TempConfig.Parse("{ not json", UNetConfig.FromJson));
        Assert.Equal("", ex.Field);
        Assert.IsAssignableFrom<LcmLoraInputException>(ex);
    }
}
