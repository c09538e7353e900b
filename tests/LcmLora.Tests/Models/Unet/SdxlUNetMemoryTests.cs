using LcmLora.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Unet;

/// <summary>A denoising step must leave no native tensor alive except the one it returns.</summary>
[Trait("Category", "unit")]
public sealed class SdxlUNetMemoryTests
{
    [Fact]
    public void DenoiseLeavesOnlyItsOutputAlive()
    {
        using var unet = SdxlUNetParityTests.LoadTinyUNet();
        using var data = SafeTensorsFile.Open(Fixtures.Path("unet-forward", "data.safetensors"));
        using var mode = inference_mode();
        using var sample = data.Read("sample");
        using var timestep = data.Read("timestep");
        using var context = data.Read("encoder_hidden_states");
        using var textEmbeds = data.Read("text_embeds");
        using var timeIds = data.Read("time_ids");
        using var conditioning = unet.ConditioningEmbedding(textEmbeds, timeIds);
        unet.Denoise(sample, timestep, context, conditioning).Dispose(); // warms the sinusoid table cache

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 3; i++) unet.Denoise(sample, timestep, context, conditioning).Dispose();
        using (var full = unet.call(sample, timestep, context, textEmbeds, timeIds)) { }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
