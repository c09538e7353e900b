using LcmLora.Checkpoints.Taesd;
using LcmLora.IO;
using LcmLora.Models.Taesd;
using LcmLora.Pipelines;
using LcmLora.Pipelines.Decoding;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Pipelines;

/// <summary>TAESD-XL as the pipeline's decoder and as the preview decoder (fixtures/taesd/pipeline_seed_path).</summary>
[Trait("Category", "parity")]
public class TaesdPipelineTests
{
    [Theory]
    [InlineData("original")]
    [InlineData("diffusers")]
    public void TaesdAsDecoderReproducesDiffusers(string layout)
    {
        var pipeline = SdxlPipeline.Load(Fixtures.Path("tiny-sdxl", "diffusers"), TinyPipelines.Fp32);
        using var _ = pipeline;
        pipeline.Decoder = new TaesdLatentDecoder(TaesdCheckpoint.Load(Fixtures.Path("taesd", layout)));
        using var result = pipeline.Generate(new GenerationRequest
        {
            Prompt = "a small wooden cabin in a pine forest", Seed = 4242, Width = 128, Height = 128, ReturnTensors = true,
        });
        using var data = SafeTensorsFile.Open(Fixtures.Path("taesd", "pipeline_seed_path", "data.safetensors"));
        using var expected = data.Read("image");
        TensorAssert.CloseAbs(expected, result.ImageTensor!, 1e-3, "image");
    }

    [Fact]
    public void PreviewDecoderAddsAPreviewToEveryStepAndChangesNothingElse()
    {
        var pipeline = TinyPipelines.Folder;
        var request = new GenerationRequest { Prompt = "a lighthouse on a cliff at sunset", Seed = 2024, Width = 64, Height = 64, ReturnTensors = true };
        using var plain = pipeline.Generate(request);
        var previews = new List<GenerationProgress>();
        pipeline.PreviewDecoder = new TaesdLatentDecoder(TaesdCheckpoint.Load(Fixtures.Path("taesd", "original", "taesdxl_decoder.safetensors")));
        try
        {
            using var withPreview = pipeline.Generate(request, new Progress(previews));
            TensorAssert.Identical(plain.ImageTensor!, withPreview.ImageTensor!);
        }
        finally { pipeline.PreviewDecoder = null; }
        Assert.Equal(4, previews.Count);
        // TAESD decodes 8x: the tiny model's 32x32 latents become a 256x256 preview.
        Assert.All(previews, p => Assert.Equal((256, 256), (p.Preview!.Width, p.Preview.Height)));
    }

    private sealed class Progress(List<GenerationProgress> into) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => into.Add(value);
    }
}
