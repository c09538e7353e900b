using LcmLora.Checkpoints;
using LcmLora.Imaging;
using LcmLora.Models;
using LcmLora.Models.ControlNet;
using LcmLora.Pipelines;
using LcmLora.Tests.Models.ControlNet;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Pipelines;

/// <summary>
/// SD 1.5 generation with an SD 1.5 ControlNet (<see cref="TinySd15ControlNet"/>, fp32): scale 0 and zeroed zero
/// convolutions give the plain image exactly, non-zero ones change it, and a ControlNet of the other family is refused
/// before any step runs.
/// </summary>
[Trait("Category", "unit")]
public sealed class Sd15ControlNetPipelineTests : TempDirectoryTest
{
    private static readonly Lazy<SdxlPipeline> Pipeline = new(() => SdxlPipeline.Load(Fixtures.Path("sd15", "diffusers"), TinyPipelines.Fp32));

    private static GenerationRequest Request(params ControlNetGuidance[] controlNets) => new()
    {
        Prompt = "a lighthouse on a cliff at sunset",
        Seed = 2024,
        Width = 32,
        Height = 32,
        ReturnTensors = true,
        ControlNets = controlNets,
    };

    private SdxlControlNet Load() => ComponentCheckpoint.LoadControlNet(TinySd15ControlNet.Write(TempDir).SingleFile);

    [Fact]
    public void ScaleZeroAndZeroConvolutionsGiveThePlainImageAndNonZeroOnesChangeIt()
    {
        using var controlnet = Load();
        var image = ControlNetPipelineTests.ControlImage;
        using var plain = Pipeline.Value.Generate(Request());
        using var zeroScale = Pipeline.Value.Generate(Request(new ControlNetGuidance(controlnet, image) { Scale = 0 }));
        TensorAssert.Identical(plain.ImageTensor!, zeroScale.ImageTensor!, "scale 0");
        using var guided = Pipeline.Value.Generate(Request(new ControlNetGuidance(controlnet, image)));
        Assert.True((guided.ImageTensor! - plain.ImageTensor!).abs().max().item<float>() > 1e-3, "scale 1 with non-zero zero convolutions");

        using (no_grad())
            foreach (var (name, p) in controlnet.named_parameters())
                if (name.StartsWith("controlnet_down_blocks.", StringComparison.Ordinal) || name.StartsWith("controlnet_mid_block.", StringComparison.Ordinal))
                    p.zero_();
        using var zeroed = Pipeline.Value.Generate(Request(new ControlNetGuidance(controlnet, image)));
        TensorAssert.Identical(plain.ImageTensor!, zeroed.ImageTensor!, "zero convolutions zeroed");
    }

    [Fact]
    public void WithGuidanceTheControlNetRunsOnBothRows()
    {
        using var controlnet = Load();
        var unit = new ControlNetGuidance(controlnet, ControlNetPipelineTests.ControlImage);
        using var unguided = Pipeline.Value.Generate(Request(unit));
        using var guided = Pipeline.Value.Generate(Request(unit) with { GuidanceScale = 1.5, NegativePrompt = "blurry" });
        Assert.True(guided.ImageTensor!.isfinite().all().item<bool>());
        Assert.True((guided.ImageTensor! - unguided.ImageTensor!).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void ControlNetOfTheOtherFamilyIsRefusedNamingTheFileAndBothWidths()
    {
        using var sd15 = Load();
        var image = ControlNetPipelineTests.ControlImage;
        var sdxlPipeline = TinyPipelines.Folder;
        var e = Assert.Throws<ModelConfigException>(() => sdxlPipeline.Generate(Request(new ControlNetGuidance(sd15, image))));
        var (ours, theirs) = (sd15.Config.Unet.CrossAttentionDim[^1], sdxlPipeline.Models.Unet.Config.CrossAttentionDim[^1]);
        Assert.NotEqual(ours, theirs);
        Assert.Equal(sd15.Config.Source, e.File);
        Assert.Contains(sd15.Config.Source, e.Message);
        Assert.Contains($"{ours}-wide", e.Message);
        Assert.Contains($"{theirs}-wide", e.Message);

        var sdxl = ControlNetPipelineTests.TinyControlNet;
        var reverse = Assert.Throws<ModelConfigException>(() => Pipeline.Value.Generate(Request(new ControlNetGuidance(sdxl, image))));
        Assert.Contains(sdxl.Config.Source, reverse.Message);
        Assert.Contains($"{sdxl.Config.Unet.CrossAttentionDim[^1]}-wide", reverse.Message);
        Assert.Contains($"{Pipeline.Value.Models.Unet.Config.CrossAttentionDim[^1]}-wide", reverse.Message);
    }
}
