using LcmLora.Models.Taesd;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Taesd;

/// <summary>Structure, shapes, input checks and memory of the model (random weights).</summary>
[Trait("Category", "unit")]
public class AutoencoderTinyShapeTests
{
    [Fact]
    public void MetaDeviceBuildsWithoutWeightsAndCountsParameters()
    {
        using var model = new AutoencoderTiny(TaesdConfig.TaesdXl, device: torch.device("meta"));
        var count = model.parameters().Sum(p => p.numel());
        Assert.Equal(2_445_063L, count); // encoder 1,222,532 + decoder 1,222,531
        Assert.All(model.parameters(), p => Assert.Equal(DeviceType.META, p.device_type));
        // Parameter-free layers (activations, upsamples) keep the diffusers indices: decoder.layers.1 is the ReLU.
        Assert.Contains("decoder.layers.2.conv.4.bias", model.state_dict().Keys);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("decoder.layers.1.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Encoder")]
    [InlineData("Decoder")]
    public void HalvesHoldOnlyTheirParameters(string half) // TaesdParts is internal, and so cannot be a public test's parameter
    {
        var parts = Enum.Parse<TaesdParts>(half);
        using var model = new AutoencoderTiny(TaesdConfig.TaesdXl, parts, device: torch.device("meta"));
        var prefix = parts == TaesdParts.Encoder ? "encoder." : "decoder.";
        Assert.All(model.state_dict().Keys, k => Assert.StartsWith(prefix, k));
        Assert.Equal(parts == TaesdParts.Encoder, model.HasEncoder);
        Assert.Equal(parts == TaesdParts.Decoder, model.HasDecoder);
    }

    [Fact]
    public void NoPartsIsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new AutoencoderTiny(TaesdConfig.TaesdXl, 0, device: torch.device("meta")));

    [Fact]
    public void ShapesFollowTheScaleFactor()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        using var model = new AutoencoderTiny(TaesdConfig.TaesdXl);
        Assert.Equal([2L, 3, 40, 24], model.Decode(torch.randn(2, 4, 5, 3)).shape);
        Assert.Equal([2L, 3, 40, 24], model.Preview(torch.randn(2, 4, 5, 3)).shape);
        Assert.Equal([1L, 4, 5, 3], model.Encode(torch.rand(1, 3, 40, 24) * 2 - 1).shape);
        // Odd sizes round up, as stride-2 convs with padding 1 do.
        Assert.Equal([1L, 4, 3, 2], model.Encode(torch.rand(1, 3, 20, 9) * 2 - 1).shape);
    }

    [Fact]
    public void PreviewIsTheDecodedImageInUnitRange()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        using var model = new AutoencoderTiny(TaesdConfig.TaesdXl, TaesdParts.Decoder);
        var latents = torch.randn(1, 4, 6, 6) * 3;
        var expected = (model.Decode(latents) / 2 + 0.5).clamp(0, 1);
        var preview = model.Preview(latents);
        TensorAssert.CloseAbs(expected, preview, 1e-6, "preview");
        // Some pixels lie strictly inside (0, 1), so the comparison is not vacuous (the fixture decode is all below -1).
        Assert.True(preview.gt(0).logical_and(preview.lt(1)).any().item<bool>(), "preview has unclamped pixels");
    }

    [Fact]
    public void WrongInputsAreRefused()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var model = new AutoencoderTiny(TaesdConfig.TaesdXl);
        Assert.Contains("[batch, 4, height, width]", Assert.Throws<TaesdInputException>(() => model.Decode(torch.zeros(1, 3, 8, 8))).Message);
        Assert.Throws<TaesdInputException>(() => model.Decode(torch.zeros(4, 8, 8)));
        Assert.Throws<TaesdInputException>(() => model.Preview(torch.zeros(1, 4, 0, 8)));
        Assert.Throws<TaesdInputException>(() => model.Decode(torch.zeros([1, 4, 8, 8], ScalarType.Int64)));
        Assert.Throws<TaesdInputException>(() => model.Encode(torch.zeros(1, 4, 64, 64)));
    }

    [Fact]
    public void DecodeEncodeAndPreviewLeaveNoTensorsBehind()
    {
        using var inference = torch.inference_mode();
        torch.manual_seed(2);
        using var model = new AutoencoderTiny(TaesdConfig.TaesdXl);
        using var latents = torch.randn(1, 4, 4, 4);
        using var image = torch.rand(1, 3, 32, 32);
        using (model.Decode(latents)) { } // warm-up
        using (model.Encode(image)) { }
        using (model.Preview(latents)) { }
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var outputs = new[] { model.Decode(latents), model.Encode(image), model.Preview(latents), model.call(latents) };
        Assert.Equal(before + outputs.Length, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        foreach (var o in outputs) o.Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
