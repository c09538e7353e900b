using LcmLora.Checkpoints;
using LcmLora.Checkpoints.ShapeInference;
using LcmLora.Models;
using LcmLora.Models.ControlNet;
using LcmLora.Models.Unet;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.ControlNet;

/// <summary>
/// An SD 1.5 ControlNet (no added conditioning, 768-style context width of its UNet) made from the tiny SD 1.5 UNet
/// (<see cref="TinySd15ControlNet"/>): both layouts load to the same weights and config, the config of the single file
/// is read from its shapes, and the residuals are the zero convolutions of the encoder's own skips.
/// </summary>
[Trait("Category", "unit")]
public sealed class Sd15ControlNetTests : TempDirectoryTest
{
    [Fact]
    public void SingleFileAndFolderLoadTheSameWeightsAndConfig()
    {
        var files = TinySd15ControlNet.Write(TempDir);
        using var folder = ComponentCheckpoint.LoadControlNet(files.Folder);
        using var single = ComponentCheckpoint.LoadControlNet(files.SingleFile);
        Assert.False(folder.Config.Unet.HasAddedConditioning);
        Assert.Equal(TinySd15ControlNet.Describe(folder.Config), TinySd15ControlNet.Describe(single.Config));
        Assert.Equal(files.SingleFile, single.Config.Source);
        var a = folder.state_dict();
        var b = single.state_dict();
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, t) in a) TensorAssert.Identical(t, b[name], name);
        // The encoder half is the UNet's (from_unet), the control branch is not zero.
        using var unet = ComponentCheckpoint.LoadUNet(TinySd15ControlNet.UNetFolder);
        var u = unet.state_dict();
        TensorAssert.Identical(u["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"], b["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"]);
        Assert.True(b["controlnet_down_blocks.11.weight"].abs().max().item<float>() > 0);
    }

    [Fact]
    public void ShapesGiveTheFolderConfigFields()
    {
        // Every field the shapes determine equals the folder's config.json; the family is SD 1.x (no add_embedding).
        var files = TinySd15ControlNet.Write(TempDir);
        using var source = CheckpointTensors.Open(files.SingleFile);
        var inferred = ControlNetShapeInference.Infer(new KeyShapes(source, ControlNetSgmNames.CheckpointPrefix));
        var folder = TinySd15ControlNet.FolderConfig();
        string[] determined = ["in_channels", "block_out_channels", "layers_per_block", "down_block_types", "mid_block_type", "transformer_layers_per_block",
            "cross_attention_dim", "use_linear_projection", "addition_embed_type", "projection_class_embeddings_input_dim", "time_cond_proj_dim",
            "conditioning_channels", "conditioning_embedding_out_channels"];
        foreach (var field in determined)
        {
            Assert.True(inferred.ContainsKey(field), field);
            Assert.True(ConfigResolver.Equivalent(folder[field], inferred[field]), $"{field}: {inferred[field]?.ToJsonString()} vs {folder[field]?.ToJsonString()}");
        }
        Assert.Equal(ModelFamily.Sd15, ControlNetShapeInference.FamilyOf(inferred));
        Assert.Equal(2, ControlNetConfig.FromJson(Path.Combine(files.Folder, "config.json")).DownscaleFactor);
    }

    [Fact]
    public void SdxlControlNetShapesGiveItsConfigAndFamily()
    {
        // The same inference on the diffusers-layout SDXL fixture (keys renamed into the original layout first).
        using var source = CheckpointTensors.Open(Path.Combine(SdxlControlNetTests.Folder, "diffusion_pytorch_model.safetensors"));
        var names = source.Keys.ToList();
        var table = new ControlNetSgmNames(names, 2, 2);
        var shapes = new KeyShapes("sdxl", "", names.Where(n => table.Parameter(n) is not null).ToDictionary(n => table.Parameter(n)!, n => source.Info(n).Shape));
        var inferred = ControlNetShapeInference.Infer(shapes);
        var folder = ConfigResolver.ReadObject(Path.Combine(SdxlControlNetTests.Folder, "config.json"));
        foreach (var field in new[] { "block_out_channels", "down_block_types", "transformer_layers_per_block", "cross_attention_dim", "projection_class_embeddings_input_dim",
            "use_linear_projection", "conditioning_embedding_out_channels" })
            Assert.True(ConfigResolver.Equivalent(folder[field], inferred[field]), field);
        Assert.Equal(ModelFamily.Sdxl, ControlNetShapeInference.FamilyOf(inferred));
    }

    [Fact]
    public void ConfigBesideTheFileThatContradictsTheShapesIsRefused()
    {
        var files = TinySd15ControlNet.Write(TempDir);
        var config = TinySd15ControlNet.OpenFieldsConfig();
        config["cross_attention_dim"] = 768;
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(files.SingleFile)!, "config.json"), config.ToJsonString());
        var e = Assert.ThrowsAny<LcmLoraInputException>(() => ComponentCheckpoint.LoadControlNet(files.SingleFile));
        Assert.Contains(files.SingleFile, e.Message);
        Assert.Contains("'cross_attention_dim' is 8 in the file but 768 in the config", e.Message);
    }

    [Fact]
    public void WithoutAConfigTheSd15DefaultsApplyAndTheirMisfitIsExplained()
    {
        // Real SD 1.5 ControlNets need no config (8 heads, 32 norm groups); the tiny one's 8 channels cannot take 32 groups.
        var files = TinySd15ControlNet.Write(TempDir);
        File.Delete(Path.Combine(Path.GetDirectoryName(files.SingleFile)!, "config.json"));
        var e = Assert.ThrowsAny<LcmLoraInputException>(() => ComponentCheckpoint.LoadControlNet(files.SingleFile));
        Assert.Contains(files.SingleFile, e.Message);
        Assert.Contains("sd15 defaults", e.Message);
        Assert.Contains("norm_num_groups", e.Message);
    }

    [Fact]
    public void ResidualsAreTheZeroConvolutionsOfTheEncoderSkipsWithTheUNetSkipShapes()
    {
        var files = TinySd15ControlNet.Write(TempDir);
        using var controlnet = ComponentCheckpoint.LoadControlNet(files.SingleFile);
        using var unet = ComponentCheckpoint.LoadUNet(TinySd15ControlNet.UNetFolder);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        manual_seed(3);
        var sample = randn(1, 4, 16, 16);
        var timestep = tensor(new float[] { 499 });
        var tokens = randn(1, 7, 8);
        var image = rand(1, 3, 32, 32);
        const double scale = 0.7;
        using var residuals = controlnet.Residuals(sample, timestep, tokens, null, image, scale);

        // The UNet's own encoder modules, composed here: conv_in + conditioning embedding, down blocks, mid block.
        var u = unet.named_modules().ToDictionary(m => m.name, m => m.module);
        var c = controlnet.named_modules().ToDictionary(m => m.name, m => m.module);
        var config = unet.Config;
        using var sinusoid = new TimestepSinusoid(config.BlockOutChannels[0], config.FlipSinToCos, config.FreqShift);
        var emb = ((TimestepEmbedding)u["time_embedding"]).Forward(sinusoid.Encode(timestep), null);
        var skips = new List<Tensor> { ((Conv2d)u["conv_in"]).call(sample) + ((ControlNetConditioningEmbedding)c["controlnet_cond_embedding"]).call(image) };
        for (var i = 0; i < config.Levels; i++) skips.AddRange(((UNetDownBlock)u[$"down_blocks.{i}"]).call(skips[^1], emb, tokens));
        var mid = ((UNetMidBlock)u["mid_block"]).call(skips[^1], emb, tokens);

        long[][] shapes = [[1, 8, 16, 16], [1, 8, 16, 16], [1, 8, 16, 16], [1, 8, 8, 8], [1, 16, 8, 8], [1, 16, 8, 8],
            [1, 16, 4, 4], [1, 16, 4, 4], [1, 16, 4, 4], [1, 16, 2, 2], [1, 16, 2, 2], [1, 16, 2, 2]];
        Assert.Equal(shapes, skips.Select(s => s.shape));
        Assert.Equal(shapes, residuals.Down.Select(r => r.shape));
        Assert.Equal([1L, 16, 2, 2], residuals.Mid.shape);
        for (var i = 0; i < skips.Count; i++)
        {
            var expected = ((Conv2d)c[$"controlnet_down_blocks.{i}"]).call(skips[i]) * scale;
            Assert.True(expected.abs().max().item<float>() > 1e-2, $"residual {i} is not trivial");
            TensorAssert.CloseAbs(expected, residuals.Down[i], 1e-5, $"down residual {i}");
        }
        TensorAssert.CloseAbs(((Conv2d)c["controlnet_mid_block"]).call(mid) * scale, residuals.Mid, 1e-5, "mid residual");

        // The UNet takes them (one per skip) and they change its output.
        var plain = unet.Denoise(sample, timestep, tokens, null);
        var guided = unet.Denoise(sample, timestep, tokens, null, downBlockAdditionalResiduals: residuals.Down, midBlockAdditionalResidual: residuals.Mid);
        Assert.Equal(plain.shape, guided.shape);
        Assert.True((guided - plain).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void ForwardTakesNoTextTimeInputs()
    {
        var files = TinySd15ControlNet.Write(TempDir);
        using var controlnet = ComponentCheckpoint.LoadControlNet(files.Folder);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var (sample, t, tokens, image) = (randn(1, 4, 16, 16), tensor(new float[] { 99 }), randn(1, 7, 8), rand(1, 3, 32, 32));
        using var viaForward = controlnet.call(sample, t, tokens, image, null!, null!);
        using var viaResiduals = controlnet.Residuals(sample, t, tokens, null, image, 1.0);
        TensorAssert.Identical(viaResiduals.Mid, viaForward.Mid);
        Assert.ThrowsAny<LcmLoraInputException>(() => controlnet.call(sample, t, tokens, image, zeros(1, 4), zeros(1, 6)));
    }
}
