using LcmLora.Checkpoints;
using LcmLora.Checkpoints.Taesd;
using LcmLora.IO;
using LcmLora.Models.Taesd;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Taesd;

/// <summary>The diffusers and original TAESD key layouts map onto the same parameters.</summary>
[Trait("Category", "unit")]
public class TaesdKeyMapTests
{
    [Theory]
    [InlineData("encoder.layers.0.weight", "0.weight")]
    [InlineData("encoder.layers.14.bias", "14.bias")]
    [InlineData("encoder.layers.3.conv.4.weight", "3.conv.4.weight")]
    [InlineData("decoder.layers.0.weight", "1.weight")]
    [InlineData("decoder.layers.2.conv.0.bias", "3.conv.0.bias")]
    [InlineData("decoder.layers.18.weight", "19.weight")]
    [InlineData("decoder.layers.7.skip.weight", "8.skip.weight")]
    public void OriginalKeysAreRenderedForward(string ours, string original) =>
        Assert.Equal(original, TaesdKeyMap.OriginalKey(ours));

    [Fact]
    public void UnknownNamesAreRefused() =>
        Assert.Throws<ArgumentException>(() => TaesdKeyMap.OriginalKey("decoder.up_blocks.0.resnets.0.conv1.weight"));

    [Fact]
    public void MetaModelNamesEqualTheDiffusersKeysAndMapOntoEveryOriginalKey()
    {
        using var model = new AutoencoderTiny(TaesdConfig.TaesdXl, device: torch.device("meta"));
        using var diffusers = CheckpointTensors.Open(TaesdFixture.DiffusersWeights);
        var ours = WeightMap.ShapesOf(model);
        Assert.Equal(diffusers.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        Assert.True(MappingReport.Build("taesd", ours, TaesdKeyMap.Diffusers(ours.Keys), diffusers).IsComplete);

        using var encoderFile = CheckpointTensors.Open(TaesdFixture.EncoderFile);
        var encoder = WeightMap.ShapesOf(model.EncoderModule!);
        Assert.True(MappingReport.Build("taesd_encoder", encoder, TaesdKeyMap.Original(TaesdParts.Encoder, encoder.Keys), encoderFile).IsComplete);

        using var decoderFile = CheckpointTensors.Open(TaesdFixture.DecoderFile);
        var decoder = WeightMap.ShapesOf(model.DecoderModule!);
        var report = MappingReport.Build("taesd_decoder", decoder, TaesdKeyMap.Original(TaesdParts.Decoder, decoder.Keys), decoderFile);
        Assert.True(report.IsComplete);
        Assert.Equal(decoderFile.Files[0].Tensors.Sum(t => t.ElementCount), report.Parameters);
        Assert.Equal(1_222_531L, report.Parameters); // 4->64 conv, 10 blocks, 3 bias-free convs, 64->3 conv
    }

    [Fact]
    public void BothLayoutsLoadIdenticalWeights()
    {
        using var fromDiffusers = TaesdCheckpoint.Load(TaesdFixture.DiffusersFolder);
        using var fromOriginal = TaesdCheckpoint.Load(TaesdFixture.OriginalFolder);
        var a = fromDiffusers.state_dict();
        var b = fromOriginal.state_dict();
        Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in a)
            TensorAssert.Identical(tensor, b[name], name);
    }

    [Fact]
    public void LeftoverKeyInAnOriginalFileIsReported()
    {
        using var temp = new TaesdFixture.TempFolder();
        var file = Path.Combine(temp.Dir, "taesdxl_decoder.safetensors");
        using (var scope = NewDisposeScope())
        using (var source = SafeTensorsFile.Open(TaesdFixture.DecoderFile))
        {
            var tensors = source.Tensors.ToDictionary(t => t.Name, t => source.Read(t.Name));
            tensors["20.weight"] = torch.zeros(3, 3, 3, 3);
            SafeTensorsWriter.Save(file, tensors);
        }
        var e = Assert.Throws<CheckpointMappingException>(() => TaesdCheckpoint.Load(file));
        Assert.Equal(["20.weight"], e.Report.Unexpected);
        Assert.Contains(file, e.Message);
    }

    [Fact]
    public void ConfigThatDoesNotFitTheWeightsIsReportedWithShapes()
    {
        var wide = TaesdConfig.TaesdXl with { LatentChannels = 16 };
        var e = Assert.Throws<CheckpointMappingException>(() => TaesdCheckpoint.Load(TaesdFixture.DecoderFile, wide));
        Assert.Contains("1.weight", e.Message);
        Assert.Contains("[64, 4, 3, 3]", e.Message);
    }
}
