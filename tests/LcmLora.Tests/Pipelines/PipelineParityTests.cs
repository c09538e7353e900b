using LcmLora.IO;
using LcmLora.Pipelines;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Pipelines;

/// <summary>The whole pipeline against diffusers' StableDiffusionXLPipeline + LCMScheduler on the tiny model (fixtures/pipeline-lcm).</summary>
[Trait("Category", "parity")]
public class PipelineParityTests
{
    [Theory]
    [InlineData("gs1_0", 1.0, false)]
    [InlineData("gs1_5", 1.5, false)]
    [InlineData("gs1_0", 1.0, true)]
    [InlineData("gs1_5", 1.5, true)]
    public void ExplicitLatentsAndGeneratorReproduceDiffusers(string caseName, double guidance, bool singleFile)
    {
        using var data = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", caseName, "data.safetensors"));
        using var latents = data.Read("initial_latents");
        using var generator = new torch.Generator(1234);
        var request = new GenerationRequest
        {
            Prompt = "a tiny red fox in the snow",
            GuidanceScale = guidance,
            Latents = latents,
            Generator = generator,
            Width = 32,
            Height = 32,
            ReturnTensors = true,
        };
        using var result = TinyPipelines.Get(singleFile).Generate(request);
        Assert.Equal(new float[] { 999, 759, 499, 259 }, result.Timesteps);
        TensorAssert.MatchesPipelineFixture(data, result);
        Assert.Null(result.Seed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SeedAloneReproducesDiffusers(bool singleFile)
    {
        using var data = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", "seed_path", "data.safetensors"));
        var request = new GenerationRequest { Prompt = "a lighthouse on a cliff at sunset", Seed = 2024, Width = 48, Height = 32, ReturnTensors = true };
        using var result = TinyPipelines.Get(singleFile).Generate(request);
        using var image = data.Read("image");
        TensorAssert.CloseAbs(image, result.ImageTensor!, 1e-3, "image");
        Assert.Equal(2024UL, result.Seed);
        var img = Assert.Single(result.Images);
        Assert.Equal((48, 32), (img.Width, img.Height));
    }
}
