using LcmLora.Checkpoints;
using LcmLora.Models.Clip;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Models.Clip;

/// <summary>The full-size SDXL encoders, built on the meta device, against the diffusers manifest.</summary>
[Trait("Category", "unit")]
public class ClipTextModelShapeTests
{
    [Theory]
    [InlineData("text_encoder", 123_060_480L)]
    [InlineData("text_encoder_2", 694_659_840L)]
    public void FullSizeNamesShapesAndCountsEqualTheManifest(string component, long parameters)
    {
        var config = component == "text_encoder" ? ClipTextConfig.SdxlClipL : ClipTextConfig.SdxlBigG;
        using var model = TinyClip.Meta(config);
        var ours = WeightMap.ShapesOf(model);
        var manifest = TinyClip.DiffusersManifest(component)
            .Where(kv => !WeightMap.IsCommonlyIgnorable(kv.Key))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

        Assert.Equal(manifest.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, shape) in manifest) Assert.True(shape.SequenceEqual(ours[name]), $"{name}: shapes differ");
        Assert.DoesNotContain(ours.Keys, k => k.Contains("position_ids"));

        var count = ours.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(parameters, count);
        Assert.Equal(TinyClip.ManifestParamCount(component), count);
        Assert.Equal(parameters, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void TinyModelsHaveExactlyTheKeysOfTheirFiles()
    {
        foreach (var component in new[] { "text_encoder", "text_encoder_2" })
        {
            using var model = TinyClip.Meta(TinyClip.Config(component));
            using var file = LcmLora.IO.SafeTensorsFile.Open(TinyClip.WeightsFile(component));
            Assert.Equal(
                file.Tensors.Select(t => t.Name).Where(n => !WeightMap.IsCommonlyIgnorable(n)).Order(StringComparer.Ordinal),
                model.state_dict().Keys.Order(StringComparer.Ordinal));
        }
    }
}
