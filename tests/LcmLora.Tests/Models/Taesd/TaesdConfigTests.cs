using System.Text.Json.Nodes;
using LcmLora.Models.Taesd;
using Xunit;

namespace LcmLora.Tests.Models.Taesd;

[Trait("Category", "unit")]
public class TaesdConfigTests
{
    [Fact]
    public void FixtureConfigIsTheTaesdXlPreset()
    {
        var c = TaesdConfig.FromJson(Path.Combine(TaesdFixture.DiffusersFolder, "config.json"));
        Assert.Equal(TaesdConfig.TaesdXl, c);
        Assert.Equal(1.0, c.ScalingFactor);
        Assert.Equal(8, c.EncoderDownscale);
        Assert.Equal(8, c.DecoderUpscale);
        Assert.Equal("relu", c.ActFn.ConfigName());
    }

    [Fact]
    public void EmptyConfigGivesDiffusersDefaults()
    {
        using var temp = new TaesdFixture.TempFolder();
        var path = Write(temp, new JsonObject());
        Assert.Equal(TaesdConfig.TaesdXl, TaesdConfig.FromJson(path));
    }

    [Fact]
    public void FieldsAreRead()
    {
        using var temp = new TaesdFixture.TempFolder();
        var path = Write(temp, new JsonObject
        {
            ["latent_channels"] = 16,
            ["act_fn"] = "swish",
            ["num_decoder_blocks"] = new JsonArray(1, 2, 3, 4),
            ["force_upcast"] = true,
            ["scaling_factor"] = 0.5,
            ["some_future_field"] = "ignored",
        });
        var c = TaesdConfig.FromJson(path);
        Assert.Equal(TaesdConfig.TaesdXl with
        {
            LatentChannels = 16, ActFn = TaesdActivation.Silu, NumDecoderBlocks = [1, 2, 3, 4], ForceUpcast = true, ScalingFactor = 0.5,
        }, c);
        Assert.NotEqual(TaesdConfig.TaesdXl, c);
    }

    [Theory]
    [InlineData("{\"_class_name\": \"AutoencoderKL\"}", "_class_name")]
    [InlineData("{\"act_fn\": \"tanh\"}", "act_fn")]
    [InlineData("{\"upsample_fn\": \"bilinear\"}", "upsample_fn")]
    [InlineData("{\"latent_channels\": \"four\"}", "latent_channels")]
    [InlineData("{\"latent_channels\": 0}", "latent_channels")]
    [InlineData("{\"num_encoder_blocks\": [1, 3, 3]}", "num_encoder_blocks")]
    [InlineData("{\"decoder_block_out_channels\": [64, 32, 64, 64]}", "decoder_block_out_channels")]
    [InlineData("{\"encoder_block_out_channels\": [64, \"x\", 64, 64]}", "encoder_block_out_channels")]
    [InlineData("{\"force_upcast\": 1}", "force_upcast")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{not json", "not valid JSON")]
    public void BadConfigsNameFileAndField(string json, string expected)
    {
        using var temp = new TaesdFixture.TempFolder();
        var path = Path.Combine(temp.Dir, "config.json");
        File.WriteAllText(path, json);
        var e = Assert.ThrowsAny<LcmLoraInputException>(() => TaesdConfig.FromJson(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AutoencoderKlConfigIsRefused()
    {
        var path = Fixtures.Path("tiny-sdxl", "diffusers", "vae", "config.json");
        var e = Assert.ThrowsAny<LcmLoraInputException>(() => TaesdConfig.FromJson(path));
        Assert.Contains("AutoencoderKL", e.Message);
    }

    [Fact]
    public void MissingFileIsAnInputError() =>
        Assert.ThrowsAny<LcmLoraInputException>(() => TaesdConfig.FromJson(Path.Combine(Path.GetTempPath(), "no-such-taesd-config.json")));

    private static string Write(TaesdFixture.TempFolder temp, JsonObject json)
    {
        var path = Path.Combine(temp.Dir, "config.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }
}
