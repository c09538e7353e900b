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
[Trait("Category", "parity")]
public sealed class SdxlControlNetTests : TempDirectoryTest
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
        var withZeros = unet.Denoise(sample, t, ehs, cond, downBlockAdditionalResiduals: zeros, midBlockAdditionalResidual: zeros_like(data.Read("mid_block_res_sample")));
        TensorAssert.Identical(plain, withZeros, "zero residuals");
        var withMid = unet.Denoise(sample, t, ehs, cond, downBlockAdditionalResiduals: zeros, midBlockAdditionalResidual: data.Read("mid_block_res_sample"));
        Assert.True((withMid - plain).abs().max().item<float>() > 1e-3);
        Assert.Throws<LcmLoraInputException>(() => unet.Denoise(sample, t, ehs, cond, downBlockAdditionalResiduals: zeros.Take(5).ToArray()));
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
        var path = TempPath("config.json");
        File.WriteAllText(path, File.ReadAllText(System.IO.Path.Combine(Folder, "config.json")).Replace("\"rgb\"", "\"yuv\""));
        var e = Assert.Throws<ModelConfigException>(() => ControlNetConfig.FromJson(path));
        Assert.Contains("controlnet_conditioning_channel_order", e.Message);
    }
}

/// <summary>The original ControlNet single-file layout (control_model.*), rendered forward from our names.</summary>
[Trait("Category", "parity")]
public sealed class ControlNetSgmNamesTests : TempDirectoryTest
{
    [Theory]
    [InlineData("controlnet_cond_embedding.conv_in.weight", "input_hint_block.0.weight")]
    [InlineData("controlnet_cond_embedding.blocks.5.bias", "input_hint_block.12.bias")]
    [InlineData("controlnet_cond_embedding.conv_out.weight", "input_hint_block.14.weight")]
    [InlineData("controlnet_down_blocks.8.weight", "zero_convs.8.0.weight")]
    [InlineData("controlnet_mid_block.bias", "middle_block_out.0.bias")]
    [InlineData("down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k.weight", "input_blocks.8.1.transformer_blocks.9.attn2.to_k.weight")]
    [InlineData("down_blocks.1.downsamplers.0.conv.weight", "input_blocks.6.0.op.weight")]
    [InlineData("mid_block.resnets.1.time_emb_proj.weight", "middle_block.2.emb_layers.1.weight")]
    [InlineData("add_embedding.linear_2.weight", "label_emb.0.2.weight")]
    public void FullSizeSdxlNamesAreTheOriginalOnes(string ours, string original)
    {
        using var controlnet = new SdxlControlNet(ControlNetConfig.SdxlBase, device("meta"));
        var names = WeightMap.ShapesOf(controlnet).Keys.ToList();
        var table = new ControlNetSgmNames(names, 2, 6);
        Assert.Equal(original, table.Parameter(ours));
        var rendered = names.Select(n => table.Parameter(n)).ToList();
        Assert.DoesNotContain(null, rendered);
        Assert.Equal(names.Count, rendered.Distinct().Count());
        Assert.Equal(9, names.Count(n => n.StartsWith("controlnet_down_blocks.") && n.EndsWith(".weight")));
    }

    [Fact]
    public void OriginalLayoutFileLoadsAndMatchesDiffusers()
    {
        // The fixture ControlNet rewritten under its original names (with a config.json beside it) gives the same forward.
        var folder = SdxlControlNetTests.Folder;
        using var source = SafeTensorsFile.Open(System.IO.Path.Combine(folder, "diffusion_pytorch_model.safetensors"));
        var names = source.Tensors.Select(t => t.Name).ToList();
        var table = new ControlNetSgmNames(names, 2, 2);
        var tensors = names.ToDictionary(n => ControlNetSgmNames.CheckpointPrefix + table.Parameter(n), n => source.Read(n));
        var file = System.IO.Path.Combine(TempDir, "control_tiny.safetensors");
        SafeTensorsWriter.Save(file, tensors);
        File.Copy(System.IO.Path.Combine(folder, "config.json"), System.IO.Path.Combine(TempDir, "config.json"));
        foreach (var t in tensors.Values) t.Dispose();
        Assert.Contains(ControlNetSgmNames.CheckpointPrefix + "input_hint_block.6.weight", tensors.Keys);

        using var controlnet = ComponentCheckpoint.LoadControlNet(file);
        using var data = SafeTensorsFile.Open(Fixtures.Path("controlnet-sdxl", "controlnet_forward.safetensors"));
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var residuals = controlnet.call(data.Read("sample"), data.Read("timestep"), data.Read("encoder_hidden_states"),
            data.Read("controlnet_cond"), data.Read("text_embeds"), data.Read("time_ids"));
        TensorAssert.Close(data.Read("mid_block_res_sample"), residuals.Mid, 1e-4, "mid_block_res_sample");
        TensorAssert.Close(data.Read("down_block_res_sample_3"), residuals.Down[3], 1e-4, "down_block_res_sample_3");
    }
}
