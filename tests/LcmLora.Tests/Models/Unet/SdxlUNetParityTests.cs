using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Models.Unet;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Unet;

/// <summary>The tiny SDXL UNet against diffusers (fixtures/unet-forward).</summary>
[Trait("Category", "parity")]
public sealed class SdxlUNetParityTests(ITestOutputHelper output)
{
    private static string UNetFolder => Fixtures.Path("tiny-sdxl", "diffusers", "unet");

    internal static SdxlUNet LoadTinyUNet()
    {
        var unet = new SdxlUNet(UNetConfig.FromJson(System.IO.Path.Combine(UNetFolder, "config.json")));
        WeightLoader.LoadDiffusers("unet", unet, System.IO.Path.Combine(UNetFolder, "diffusion_pytorch_model.safetensors"));
        unet.eval();
        return unet;
    }

    [Fact]
    public void ForwardMatchesDiffusers()
    {
        using var unet = LoadTinyUNet();
        using var data = SafeTensorsFile.Open(Fixtures.Path("unet-forward", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var actual = unet.call(data.Read("sample"), data.Read("timestep"), data.Read("encoder_hidden_states"),
            data.Read("text_embeds"), data.Read("time_ids"));
        var expected = data.Read("out_sample");
        output.WriteLine($"unet-forward max |diff| = {(actual - expected).abs().max().item<float>():E3}, max |ref| = {expected.abs().max().item<float>():E3}");
        TensorAssert.Close(expected, actual, 1e-4, "out_sample");
    }

    [Theory]
    [InlineData("gs1_0")]
    [InlineData("gs1_5")]
    public void PipelineStepsMatchDiffusersWithConditioningComputedOnce(string pipelineCase)
    {
        using var unet = LoadTinyUNet();
        using var data = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", pipelineCase, "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var conditioning = unet.ConditioningEmbedding(data.Read("unet_call_0.text_embeds"), data.Read("unet_call_0.time_ids"));
        for (var i = 0; data.Tensors.Any(t => t.Name == $"unet_call_{i}.out"); i++)
        {
            TensorAssert.Identical(data.Read("unet_call_0.text_embeds"), data.Read($"unet_call_{i}.text_embeds"), "text_embeds constant");
            TensorAssert.Identical(data.Read("unet_call_0.time_ids"), data.Read($"unet_call_{i}.time_ids"), "time_ids constant");
            var actual = unet.Denoise(data.Read($"unet_call_{i}.sample"), data.Read($"unet_call_{i}.timestep"),
                data.Read($"unet_call_{i}.encoder_hidden_states"), conditioning);
            var expected = data.Read($"unet_call_{i}.out");
            output.WriteLine($"{pipelineCase} unet_call_{i}: max |diff| = {(actual - expected).abs().max().item<float>():E3}, max |ref| = {expected.abs().max().item<float>():E3}");
            TensorAssert.Close(expected, actual, 1e-4, $"{pipelineCase} unet_call_{i}");
        }
    }

    [Fact]
    public void DenoiseWithPrecomputedConditioningEqualsForward()
    {
        using var unet = LoadTinyUNet();
        using var data = SafeTensorsFile.Open(Fixtures.Path("unet-forward", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var (sample, timestep, context) = (data.Read("sample"), data.Read("timestep"), data.Read("encoder_hidden_states"));
        var conditioning = unet.ConditioningEmbedding(data.Read("text_embeds"), data.Read("time_ids"));
        Assert.Equal(new long[] { 2, unet.Config.TimeEmbedDim }, conditioning.shape);
        var viaSteps = unet.Denoise(sample, timestep, context, conditioning);
        var viaForward = unet.call(sample, timestep, context, data.Read("text_embeds"), data.Read("time_ids"));
        TensorAssert.Identical(viaForward, viaSteps, "Denoise vs forward");
    }

    [Fact]
    public void SingleTimestepBroadcastsOverTheBatch()
    {
        using var unet = LoadTinyUNet();
        using var data = SafeTensorsFile.Open(Fixtures.Path("unet-forward", "data.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var (sample, context) = (data.Read("sample"), data.Read("encoder_hidden_states"));
        var conditioning = unet.ConditioningEmbedding(data.Read("text_embeds"), data.Read("time_ids"));
        var scalar = unet.Denoise(sample, tensor(500L), context, conditioning);
        var perItem = unet.Denoise(sample, tensor(new long[] { 500, 500 }), context, conditioning);
        var asFloat = unet.Denoise(sample, tensor(500.0f), context, conditioning);
        TensorAssert.Identical(perItem, scalar, "0-d timestep");
        TensorAssert.Identical(perItem, asFloat, "float timestep");
    }

    [Fact]
    public void MismatchedMicroConditioningWidthIsRejected()
    {
        using var unet = LoadTinyUNet();
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<LcmLoraInputException>(() => unet.ConditioningEmbedding(zeros(1, 40), zeros(1, 5)));
        Assert.Contains("projection_class_embeddings_input_dim", ex.Message);
    }

    [Fact]
    public void OddLatentSizesUpsampleToTheSkipSize()
    {
        using var unet = LoadTinyUNet();
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var result = unet.call(randn(1, 4, 13, 11), tensor(10L), randn(1, 77, 72), randn(1, 40), tensor(new float[,] { { 104, 88, 0, 0, 104, 88 } }));
        Assert.Equal(new long[] { 1, 4, 13, 11 }, result.shape);
    }
}
