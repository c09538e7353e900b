using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Models;
using LcmLora.Models.ControlNet;
using LcmLora.Models.Unet;
using LcmLora.Tests.Models.Unet;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.ControlNet;

/// <summary>The tiny SDXL ControlNet against diffusers' ControlNetModel (fixtures/controlnet-sdxl).</summary>
public sealed class SdxlControlNetTests
{
    internal static string Folder => Fixtures.Path("controlnet-sdxl", "controlnet");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ForwardMatchesDiffusers(bool singleFile)
    {
        using var controlnet = ComponentCheckpoint.LoadControlNet(singleFile ? System.IO.Path.Combine(Folder, "diffusion_pytorch_model.safetensors") : Folder);
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "controlnet_forward.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var residuals = controlnet.call(data.Read("sample"), data.Read("timestep"), data.Read("encoder_hidden_states"),
            data.Read("controlnet_cond"), data.Read("text_embeds"), data.Read("time_ids"));
        Assert.Equal(6, residuals.Down.Count);
        for (var i = 0; i < residuals.Down.Count; i++)
            TensorAssert.Close(data.Read($"down_block_res_sample_{i}"), residuals.Down[i], 1e-4, $"down_block_res_sample_{i}");
        TensorAssert.Close(data.Read("mid_block_res_sample"), residuals.Mid, 1e-4, "mid_block_res_sample");
    }

    [Fact]
    public void ConfigReadsTheEncoderHalfAndTheConditioningEmbedding()
    {
        var config = ControlNetConfig.FromJson(System.IO.Path.Combine(Folder, "config.json"));
        Assert.Equal([32, 64], config.Unet.BlockOutChannels);
        Assert.Equal([8, 16], config.ConditioningEmbeddingOutChannels);
        Assert.Equal(2, config.DownscaleFactor);
        Assert.Equal([UNetConfig.CrossAttnUpBlock, UNetConfig.UpBlock], config.Unet.UpBlockTypes);
        Assert.False(config.BgrConditioning);
    }

    [Fact]
    public void SharesTheUNetEncoderParameterNamesAndShapes()
    {
        // The ControlNet is built by the same encoder code as the UNet: every UNet parameter outside the decoder half
        // exists in the ControlNet with the same name and shape, and the ControlNet adds only its control branch.
        using var controlnet = new SdxlControlNet(ControlNetConfig.FromJson(System.IO.Path.Combine(Folder, "config.json")), device("meta"));
        using var unet = new SdxlUNet(UNetConfig.FromJson(Fixtures.Path("tiny-sdxl", "diffusers", "unet", "config.json")), device("meta"));
        var ours = WeightMap.ShapesOf(controlnet);
        var encoder = WeightMap.ShapesOf(unet).Where(kv => !kv.Key.StartsWith("up_blocks.") && !kv.Key.StartsWith("conv_norm_out.") && !kv.Key.StartsWith("conv_out."));
        foreach (var (name, shape) in encoder) Assert.Equal(shape, ours[name]);
        Assert.All(ours.Keys.Except(encoder.Select(kv => kv.Key)), k => Assert.StartsWith("controlnet_", k));
        Assert.Equal(970520L, controlnet.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void UNetAddsTheResidualsToItsSkipsAndMidBlock()
    {
        // Zero residuals leave the output unchanged; a non-zero mid residual changes it.
        using var unet = SdxlUNetParityTests.LoadTinyUNet();
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "controlnet_forward.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var cond = unet.ConditioningEmbedding(data.Read("text_embeds"), data.Read("time_ids"));
        var (sample, t, ehs) = (data.Read("sample"), data.Read("timestep"), data.Read("encoder_hidden_states"));
        var plain = unet.Denoise(sample, t, ehs, cond);
        var zeros = Enumerable.Range(0, 6).Select(i => zeros_like(data.Read($"down_block_res_sample_{i}"))).ToArray();
        var withZeros = unet.Denoise(sample, t, ehs, cond, zeros, zeros_like(data.Read("mid_block_res_sample")));
        TensorAssert.Identical(plain, withZeros, "zero residuals");
        var withMid = unet.Denoise(sample, t, ehs, cond, zeros, data.Read("mid_block_res_sample"));
        Assert.True((withMid - plain).abs().max().item<float>() > 1e-3);
        Assert.Throws<LcmLoraInputException>(() => unet.Denoise(sample, t, ehs, cond, zeros.Take(5).ToArray()));
    }

    [Fact]
    public void WrongControlImageSizeIsRejected()
    {
        using var controlnet = ComponentCheckpoint.LoadControlNet(Folder);
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "controlnet_forward.safetensors"));
        using var scope = NewDisposeScope();
        var e = Assert.Throws<LcmLoraInputException>(() => controlnet.call(data.Read("sample"), data.Read("timestep"), data.Read("encoder_hidden_states"),
            zeros(2, 3, 16, 16), data.Read("text_embeds"), data.Read("time_ids")));
        Assert.Contains("control image", e.Message);
    }

    [Fact]
    public void ConfigWithUnsupportedChannelOrderNamesTheField()
    {
        var dir = Directory.CreateTempSubdirectory("cn-config");
        try
        {
            var text = File.ReadAllText(System.IO.Path.Combine(Folder, "config.json")).Replace("\"rgb\"", "\"yuv\"");
            var path = System.IO.Path.Combine(dir.FullName, "config.json");
            File.WriteAllText(path, text);
            var e = Assert.Throws<ModelConfigException>(() => ControlNetConfig.FromJson(path));
            Assert.Contains("controlnet_conditioning_channel_order", e.Message);
        }
        finally { dir.Delete(true); }
    }
}
