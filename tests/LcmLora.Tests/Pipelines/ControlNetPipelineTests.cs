using LcmLora.Checkpoints;
using LcmLora.Imaging;
using LcmLora.IO;
using LcmLora.Models.ControlNet;
using LcmLora.Pipelines;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Pipelines;

/// <summary>StableDiffusionXLControlNetPipeline + LCM on the tiny model (fixtures/controlnet-sdxl), seed only.</summary>
[Trait("Category", "parity")]
public sealed class ControlNetPipelineTests
{
    private static readonly Lazy<SdxlControlNet> Tiny = new(() => ComponentCheckpoint.LoadControlNet(Fixtures.Path("controlnet-sdxl", "controlnet")));

    internal static SdxlControlNet TinyControlNet => Tiny.Value;

    internal static RgbImage ControlImage => PngCodec.Load(Fixtures.Path("controlnet-sdxl", "control_image.png"));

    private static GenerationRequest Request(params ControlNetGuidance[] controlNets) => new()
    {
        Prompt = "a house on a hill",
        Seed = 77,
        Width = 32,
        Height = 32,
        ReturnTensors = true,
        ControlNets = controlNets,
    };

    [Theory]
    [InlineData("scale_0_5", 0.5)]
    [InlineData("scale_1_0", 1.0)]
    public void MatchesDiffusersAtEachScale(string caseName, double scale)
    {
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", caseName, "data.safetensors"));
        using var result = TinyPipelines.Folder.Generate(Request(new ControlNetGuidance(TinyControlNet, ControlImage) { Scale = scale }));
        TensorAssert.MatchesPipelineFixture(data, result);
    }

    [Fact]
    public void WithoutControlNetOrAtScaleZeroTheImageIsThePlainOne()
    {
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "no_controlnet_image.safetensors"));
        using var image = data.Read("image");
        using var plain = TinyPipelines.Folder.Generate(Request());
        TensorAssert.CloseAbs(image, plain.ImageTensor!, 1e-3, "no ControlNet");
        using var zero = TinyPipelines.Folder.Generate(Request(new ControlNetGuidance(TinyControlNet, ControlImage) { Scale = 0 }));
        TensorAssert.CloseAbs(image, zero.ImageTensor!, 1e-3, "scale 0");
    }

    [Fact]
    public void TwoControlNetsAddTheirResiduals()
    {
        // The same ControlNet twice at 0.5 each adds the same residuals as once at 1.0 (MultiControlNetModel sums them).
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "scale_1_0", "data.safetensors"));
        using var image = data.Read("image");
        var half = new ControlNetGuidance(TinyControlNet, ControlImage) { Scale = 0.5 };
        using var result = TinyPipelines.Folder.Generate(Request(half, half));
        TensorAssert.CloseAbs(image, result.ImageTensor!, 1e-3, "0.5 + 0.5");
    }

    [Fact]
    public void GuidanceWindowLimitsTheStepsTheControlNetActsOn()
    {
        var unit = new ControlNetGuidance(TinyControlNet, ControlImage) { GuidanceStart = 0.25, GuidanceEnd = 0.75 };
        Assert.Equal([false, true, true, false], Enumerable.Range(0, 4).Select(i => unit.ActsAt(i, 4)));
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "scale_1_0", "data.safetensors"));
        using var full = data.Read("image");
        using var plainFile = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "no_controlnet_image.safetensors"));
        using var plain = plainFile.Read("image");
        using var windowed = TinyPipelines.Folder.Generate(Request(unit));
        using var fromFull = (windowed.ImageTensor! - full).abs().max();
        using var fromPlain = (windowed.ImageTensor! - plain).abs().max();
        Assert.True(fromFull.item<float>() > 1e-3 && fromPlain.item<float>() > 1e-3, "acting on 2 of 4 steps differs from both 4 and 0");
    }

    [Fact]
    public void WithGuidanceTheControlNetRunsOnBothRows()
    {
        // guidance 1.5: batch [negative; positive]; the result is finite and differs from the unguided one.
        var request = Request(new ControlNetGuidance(TinyControlNet, ControlImage)) with { GuidanceScale = 1.5 };
        using var guided = TinyPipelines.Folder.Generate(request);
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "scale_1_0", "data.safetensors"));
        using var unguided = data.Read("image");
        Assert.True((guided.ImageTensor! - unguided).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void BadGuidanceWindowIsRejected()
    {
        var e = Assert.Throws<InvalidRequestException>(() => TinyPipelines.Folder.Generate(
            Request(new ControlNetGuidance(TinyControlNet, ControlImage) { GuidanceStart = 0.8, GuidanceEnd = 0.2 })));
        Assert.Contains("start", e.Message);
    }
}
