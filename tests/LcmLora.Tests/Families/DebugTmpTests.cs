using LcmLora.Checkpoints;
using LcmLora.IO;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LcmLora.Tests.Families;

public sealed class DebugTmpTests(ITestOutputHelper output)
{
    [Fact]
    public void Probe()
    {
        using var ckpt = SdxlCheckpoint.OpenUNet(Fixtures.Path("sdxl-variants", "inpaint", "diffusers", "unet"));
        using var unet = ckpt.LoadUNet();
        using var data = SafeTensorsFile.Open(Fixtures.Path("sdxl-variants", "inpaint", "unet_forward.safetensors"));
        using var mode = inference_mode();
        var (s, t, e, te, ti, o) = (data.Read("sample"), data.Read("timestep"), data.Read("encoder_hidden_states"), data.Read("text_embeds"), data.Read("time_ids"), data.Read("out_sample"));
        output.WriteLine($"timestep {string.Join(",", t.data<long>().ToArray())} time_ids {string.Join(",", ti.data<float>().ToArray())}");
        var full = unet.Forward(s, t, e, te, ti);
        output.WriteLine($"batch2 diff item0 {(full[0] - o[0]).abs().max().item<float>()} item1 {(full[1] - o[1]).abs().max().item<float>()}");
        for (var i = 0; i < 2; i++)
        {
            var one = unet.Forward(s[i..(i + 1)], t[i..(i + 1)], e[i..(i + 1)], te[i..(i + 1)], ti[i..(i + 1)]);
            output.WriteLine($"alone item{i} diff {(one[0] - o[i]).abs().max().item<float>()}");
        }
        output.WriteLine(ConfigAssert.Json(unet.Config));
    }
}
