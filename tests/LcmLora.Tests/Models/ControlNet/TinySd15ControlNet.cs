using System.Text.Json.Nodes;
using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Models.ControlNet;
using LcmLora.Models.Unet;
using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.ControlNet;

/// <summary>
/// A tiny SD 1.5 ControlNet made as diffusers' <c>ControlNetModel.from_unet</c> makes one from the tiny SD 1.5 UNet
/// (fixtures/sd15): the encoder half's weights copied from the UNet, the conditioning embedding and the zero
/// convolutions random (non-zero, so the residuals matter; trained ControlNets have non-zero ones). Written as a
/// diffusers folder (config.json + diffusion_pytorch_model.safetensors) and as an original-layout single file
/// (<c>control_model.*</c>, as control_v11p_sd15_canny.pth converted to safetensors) with a config.json beside it
/// holding only what the shapes leave open and differs from the SD 1.5 defaults (heads, norm groups of the tiny model).
/// No Python fixture exists for SD 1.5 ControlNets: the tests check properties of this one.
/// </summary>
internal sealed record TinySd15ControlNet(string Folder, string SingleFile)
{
    public static string UNetFolder => Fixtures.Path("sd15", "diffusers", "unet");

    /// <summary>The conditioning embedding's widths: two entries, a factor 2, the tiny VAE's.</summary>
    public static readonly int[] EmbeddingWidths = [8, 16];

    public static TinySd15ControlNet Write(string dir, long seed = 15)
    {
        var folder = Path.Combine(dir, "controlnet");
        var singleDir = Path.Combine(dir, "single");
        Directory.CreateDirectory(folder);
        Directory.CreateDirectory(singleDir);
        using var unet = ComponentCheckpoint.LoadUNet(UNetFolder);
        manual_seed(seed);
        using var controlnet = new SdxlControlNet(new ControlNetConfig { Source = "tiny sd15 controlnet", Unet = unet.Config, ConditioningEmbeddingOutChannels = EmbeddingWidths });
        var unetParameters = unet.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var copied = 0;
        using (no_grad())
        {
            foreach (var (name, p) in controlnet.named_parameters())
            {
                if (!unetParameters.TryGetValue(name, out var source)) continue;
                p.copy_(source);
                copied++;
            }
        }
        var names = WeightMap.ShapesOf(controlnet).Keys.ToList();
        var own = names.Count(n => n.StartsWith("controlnet_", StringComparison.Ordinal));
        if (copied + own != names.Count) throw new InvalidOperationException($"copied {copied} + {own} control weights != {names.Count}");
        var state = controlnet.state_dict();
        var tensors = names.ToDictionary(n => n, n => state[n].detach().clone());

        SafeTensorsWriter.Save(Path.Combine(folder, "diffusion_pytorch_model.safetensors"), tensors);
        File.WriteAllText(Path.Combine(folder, "config.json"), FolderConfig().ToJsonString());

        var table = new ControlNetSgmNames(names, 2, 2 * (EmbeddingWidths.Length - 1));
        var single = Path.Combine(singleDir, "control_tiny_sd15.safetensors");
        SafeTensorsWriter.Save(single, tensors.ToDictionary(kv => ControlNetSgmNames.CheckpointPrefix + table.Parameter(kv.Key), kv => kv.Value));
        File.WriteAllText(Path.Combine(singleDir, "config.json"), OpenFieldsConfig().ToJsonString());
        foreach (var t in tensors.Values) t.Dispose();
        return new TinySd15ControlNet(folder, single);
    }

    /// <summary>The diffusers ControlNetModel config: the UNet's encoder fields plus the control fields.</summary>
    public static JsonObject FolderConfig()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(UNetFolder, "config.json")))!.AsObject();
        foreach (var decoderField in new[] { "up_block_types", "reverse_transformer_layers_per_block", "out_channels", "conv_out_kernel", "sample_size" })
            config.Remove(decoderField);
        config["_class_name"] = "ControlNetModel";
        config["conditioning_channels"] = 3;
        config["conditioning_embedding_out_channels"] = new JsonArray(EmbeddingWidths.Select(w => (JsonNode?)w).ToArray());
        config["controlnet_conditioning_channel_order"] = "rgb";
        config["global_pool_conditions"] = false;
        return config;
    }

    /// <summary>Only the tiny model's open fields that differ from the SD 1.5 defaults (8 heads, 32 norm groups).</summary>
    public static JsonObject OpenFieldsConfig() => new()
    {
        ["_class_name"] = "ControlNetModel",
        ["attention_head_dim"] = 2,
        ["norm_num_groups"] = 8,
    };

    /// <summary>The fields of a config that decide the architecture and behaviour, for comparing two configs.</summary>
    public static string Describe(ControlNetConfig c)
    {
        var u = c.Unet;
        static string L<T>(IEnumerable<T> xs) => "[" + string.Join(",", xs) + "]";
        return string.Join("; ",
            $"in {u.InChannels} k{u.ConvInKernel}", $"channels {L(u.BlockOutChannels)}", $"layers {L(u.LayersPerBlock)}", $"down {L(u.DownBlockTypes)}",
            $"mid {u.MidBlockType}", $"depths {L(u.TransformerLayersPerBlock.Select(L))}", $"heads {L(u.AttentionHeads)}", $"cross {L(u.CrossAttentionDim)}",
            $"linear {u.UseLinearProjection}", $"groups {u.NormNumGroups} eps {u.NormEps}", $"added {u.HasAddedConditioning} {u.ProjectionClassEmbeddingsInputDim}",
            $"time {u.TimeEmbedDim} {u.TimeCondProjDim} flip {u.FlipSinToCos} shift {u.FreqShift}",
            $"cond {c.ConditioningChannels} {L(c.ConditioningEmbeddingOutChannels)} bgr {c.BgrConditioning} pool {c.GlobalPoolConditions}");
    }
}
