using LcmLora.IO;
using LcmLora.Models;
using LcmLora.Pipelines;
using LcmLora.Tests.Pipelines;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Lora;

/// <summary>
/// Model outputs after fusing, against diffusers + PEFT (fixtures/lora): the UNet and both text encoders run on the
/// fixture inputs with the adapters fused through the pipeline, then unfused (originals re-read from the mapped checkpoint).
/// </summary>
[Trait("Category", "slow")]
public class LoraOutputParityTests
{
    public static TheoryData<string, string[], double[], bool> Cases => new()
    {
        { "fmt_a_scale_1_0", ["lora_a"], [1.0], false },
        { "fmt_a_scale_0_5", ["lora_a"], [0.5], true },
        { "fmt_b_scale_1_0", ["lora_b"], [1.0], true },
        { "fmt_b_scale_0_5", ["lora_b"], [0.5], false },
        { "fmt_c_scale_1_0", ["lora_c"], [1.0], false },
        { "fmt_c_scale_0_5", ["lora_c"], [0.5], true },
        { "combined_lcm_style", ["lora_b", "lora_a"], [1.0, 0.8], false },
        { "combined_lcm_style", ["lora_b", "lora_a"], [1.0, 0.8], true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedOutputsMatchAndUnfuseRestoresTheBase(string caseName, string[] files, double[] weights, bool singleFile)
    {
        using var pipeline = SdxlPipeline.Load(singleFile ? Fixtures.TinySgm : Fixtures.Path("tiny-sdxl", "diffusers"), TinyPipelines.Fp32 with { ConfigDir = singleFile ? Fixtures.TinyConfigDir : null });
        using var before = WeightSnapshot.Of(pipeline.Models);
        for (var i = 0; i < files.Length; i++) pipeline.Loras.Add(files[i], Fixtures.Path("lora", files[i] + ".safetensors"), weights[i]);
        pipeline.Loras.Fuse();
        using (var expected = SafeTensorsFile.Open(Fixtures.Path("lora", caseName, "outputs.safetensors"))) CompareOutputs(pipeline.Models, expected);
        pipeline.Loras.Unfuse();
        using (var after = WeightSnapshot.Of(pipeline.Models)) before.AssertIdentical(after);
        using (var baseOutputs = SafeTensorsFile.Open(Fixtures.Path("lora", "base_outputs.safetensors"))) CompareOutputs(pipeline.Models, baseOutputs);
    }

    [Fact]
    public void ReweightingAfterFusionDoesNotNeedTheFileAndCyclesStayExact()
    {
        using var pipeline = SdxlPipeline.Load(Fixtures.Path("tiny-sdxl", "diffusers"), TinyPipelines.Fp32);
        using var before = WeightSnapshot.Of(pipeline.Models);
        pipeline.Loras.Add("lcm", Fixtures.Path("lora", "lora_b.safetensors"), 1.0);
        pipeline.Loras.Add("style", Fixtures.Path("lora", "lora_a.safetensors"), 0.3);
        for (var cycle = 0; cycle < 20; cycle++)
        {
            pipeline.Loras.Fuse();
            if (cycle == 10) pipeline.Loras.SetWeight("style", 0.8);
            pipeline.Loras.Unfuse();
        }
        using (var after = WeightSnapshot.Of(pipeline.Models)) before.AssertIdentical(after);
        pipeline.Loras.Fuse();
        using var expected = SafeTensorsFile.Open(Fixtures.Path("lora", "combined_lcm_style", "outputs.safetensors"));
        CompareOutputs(pipeline.Models, expected);
    }

    private static void CompareOutputs(SdxlModels models, SafeTensorsFile expected)
    {
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        using var inputs = SafeTensorsFile.Open(Fixtures.Path("lora", "inputs.safetensors"));
        var unet = models.Unet.forward(inputs.Read("sample"), inputs.Read("timestep"), inputs.Read("encoder_hidden_states"), inputs.Read("text_embeds"), inputs.Read("time_ids"));
        TensorAssert.Close(expected.Read("unet_out"), unet, 1e-4, "unet_out");
        using var o1 = models.TextEncoder!.Forward(inputs.Read("input_ids_1"), outputLayer: -2);
        TensorAssert.Close(expected.Read("te1_hidden_states_m2"), o1.SelectedHiddenState!, 1e-4, "te1_hidden_states_m2");
        TensorAssert.Close(expected.Read("te1_last_hidden_state"), o1.LastHiddenState!, 1e-4, "te1_last_hidden_state");
        using var o2 = models.TextEncoder2!.Forward(inputs.Read("input_ids_2"), outputLayer: -2);
        TensorAssert.Close(expected.Read("te2_hidden_states_m2"), o2.SelectedHiddenState!, 1e-4, "te2_hidden_states_m2");
        TensorAssert.Close(expected.Read("te2_text_embeds"), o2.TextEmbeds!, 1e-4, "te2_text_embeds");
    }
}
