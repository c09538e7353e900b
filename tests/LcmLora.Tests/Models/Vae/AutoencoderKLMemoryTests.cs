using LcmLora.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Vae;

/// <summary>Encode, decode and tiled decode must leave no native tensor alive except what they return.</summary>
[Trait("Category", "unit")]
public sealed class AutoencoderKLMemoryTests
{
    [Fact]
    public void VaeCallsLeaveOnlyTheirOutputsAlive()
    {
        using var vae = AutoencoderKLParityTests.LoadTinyVae();
        using var data = SafeTensorsFile.Open(Fixtures.Path("vae-tiled", "data.safetensors"));
        using var mode = inference_mode();
        using var latents = data.Read("latents");
        using var image = rand(1, 3, 32, 32);

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        vae.Decode(latents).Dispose();
        vae.DecodeTiled(latents, 16, 0.25).Dispose();
        using (var posterior = vae.Encode(image)) vae.call(image).Dispose();
        using (var posterior = vae.Encode(image)) posterior.Sample(new Generator(1)).Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
