using LcmLora.Lora;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Lora;

[Trait("Category", "unit")]
public class LoraNameMapTests
{
    private static LoraNameMap TinyMap()
    {
        using var model = TinyLoraModel.Load();
        return new LoraNameMap(model.Parameters.ToDictionary(c => c.Key,
            c => (IReadOnlyDictionary<string, long[]>)c.Value.ToDictionary(p => p.Key, p => p.Value.shape)));
    }

    [Theory]
    // kohya, diffusers names (underscores inside names are never split: they are rendered forward)
    [InlineData("lora_unet_down_blocks_1_attentions_0_transformer_blocks_1_ff_net_0_proj", "unet", "down_blocks.1.attentions.0.transformer_blocks.1.ff.net.0.proj.weight", LoraNamingScheme.Kohya)]
    [InlineData("lora_unet_up_blocks_0_attentions_2_transformer_blocks_0_attn2_to_out_0", "unet", "up_blocks.0.attentions.2.transformer_blocks.0.attn2.to_out.0.weight", LoraNamingScheme.Kohya)]
    [InlineData("lora_unet_conv_in", "unet", "conv_in.weight", LoraNamingScheme.Kohya)]
    [InlineData("lora_unet_time_embedding_linear_1", "unet", "time_embedding.linear_1.weight", LoraNamingScheme.Kohya)]
    // kohya, SGM names
    [InlineData("lora_unet_input_blocks_0_0", "unet", "conv_in.weight", LoraNamingScheme.KohyaSgm)]
    [InlineData("lora_unet_time_embed_0", "unet", "time_embedding.linear_1.weight", LoraNamingScheme.KohyaSgm)]
    [InlineData("lora_unet_label_emb_0_2", "unet", "add_embedding.linear_2.weight", LoraNamingScheme.KohyaSgm)]
    [InlineData("lora_unet_input_blocks_3_0_op", "unet", "down_blocks.0.downsamplers.0.conv.weight", LoraNamingScheme.KohyaSgm)]
    [InlineData("lora_unet_output_blocks_2_2_conv", "unet", "up_blocks.0.upsamplers.0.conv.weight", LoraNamingScheme.KohyaSgm)]
    [InlineData("lora_unet_middle_block_1_transformer_blocks_1_attn1_to_out_0", "unet", "mid_block.attentions.0.transformer_blocks.1.attn1.to_out.0.weight", LoraNamingScheme.KohyaSgm)]
    [InlineData("lora_unet_out_2", "unet", "conv_out.weight", LoraNamingScheme.KohyaSgm)]
    // PEFT, prefixed and not; LyCORIS prefix; legacy
    [InlineData("unet.mid_block.resnets.1.conv2", "unet", "mid_block.resnets.1.conv2.weight", LoraNamingScheme.Peft)]
    [InlineData("mid_block.resnets.1.conv2", "unet", "mid_block.resnets.1.conv2.weight", LoraNamingScheme.PeftUnprefixed)]
    [InlineData("lycoris_mid_block_resnets_1_conv2", "unet", "mid_block.resnets.1.conv2.weight", LoraNamingScheme.Lycoris)]
    [InlineData("down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora", "unet", "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight", LoraNamingScheme.DiffusersLegacy)]
    [InlineData("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_out_lora", "unet", "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_out.0.weight", LoraNamingScheme.DiffusersLegacy)]
    // text encoders: lora_te1_ / lora_te_ (SD1 style, first encoder) / lora_te2_ / PEFT / legacy
    [InlineData("lora_te1_text_model_encoder_layers_3_mlp_fc2", "text_encoder", "text_model.encoder.layers.3.mlp.fc2.weight", LoraNamingScheme.Kohya)]
    [InlineData("lora_te_text_model_encoder_layers_3_self_attn_out_proj", "text_encoder", "text_model.encoder.layers.3.self_attn.out_proj.weight", LoraNamingScheme.Kohya)]
    [InlineData("lora_te2_text_model_encoder_layers_4_self_attn_v_proj", "text_encoder_2", "text_model.encoder.layers.4.self_attn.v_proj.weight", LoraNamingScheme.Kohya)]
    [InlineData("lora_te2_text_projection", "text_encoder_2", "text_projection.weight", LoraNamingScheme.Kohya)]
    [InlineData("text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj", "text_encoder_2", "text_model.encoder.layers.0.self_attn.q_proj.weight", LoraNamingScheme.Peft)]
    [InlineData("text_encoder.text_model.encoder.layers.0.self_attn.to_v_lora", "text_encoder", "text_model.encoder.layers.0.self_attn.v_proj.weight", LoraNamingScheme.DiffusersLegacy)]
    public void KeysResolveForward(string key, string component, string parameter, LoraNamingScheme scheme)
    {
        var map = TinyMap();
        Assert.True(map.TryResolve(key, out var target), key);
        Assert.Equal(new LoraTarget(component, parameter, scheme), target);
    }

    [Theory]
    [InlineData("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q_extra")]
    [InlineData("lora_unet_down_blocks_1_attentions_0_norm")] // 1-D weights are never targets
    [InlineData("lora_unet_input_blocks_1_0_in_layers_0")] // GroupNorm of a resnet (SGM name)
    [InlineData("unet.text_model.encoder.layers.0.self_attn.q_proj")]
    [InlineData("lora_te3_text_model_encoder_layers_0_self_attn_q_proj")]
    public void OtherKeysDoNotResolve(string key) => Assert.False(TinyMap().TryResolve(key, out _));

    [Fact]
    public void NoTwoParametersShareARendering() => Assert.Empty(TinyMap().AmbiguousKeys);

    [Fact]
    public void LiveModuleParametersAreEditedInPlace()
    {
        using var linear = torch.nn.Linear(5, 6);
        using var before = linear.weight!.detach().clone();
        using var s = new SyntheticLora();
        var path = s.Write([("unet.lin.lora_A.weight", Arr.Random(1, 2, 5)), ("unet.lin.lora_B.weight", Arr.Random(2, 6, 2))]);
        using var module = new LiveModule(linear);
        using var set = LoraAdapterSet.FromModules(new Dictionary<string, torch.nn.Module> { [LoraComponents.UNet] = module });
        set.Add("x", path);
        set.Fuse();
        Assert.False(TensorAssert.AreIdentical(before, linear.weight!));
        Assert.True(linear.weight!.requires_grad);
        set.Unfuse();
        TensorAssert.Identical(before, linear.weight!.detach());
    }

    /// <summary>A module with one child called <c>lin</c>, so its parameters are <c>lin.weight</c> and <c>lin.bias</c>.</summary>
    private sealed class LiveModule : torch.nn.Module<torch.Tensor, torch.Tensor>
    {
#pragma warning disable IDE1006 // field names are parameter path segments
        private readonly torch.nn.Module<torch.Tensor, torch.Tensor> lin;
#pragma warning restore IDE1006

        public LiveModule(torch.nn.Module<torch.Tensor, torch.Tensor> linear) : base(nameof(LiveModule))
        {
            lin = linear;
            RegisterComponents();
        }

        public override torch.Tensor forward(torch.Tensor x) => lin.forward(x);
    }
}
