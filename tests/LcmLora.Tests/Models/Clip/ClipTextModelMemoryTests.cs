using LcmLora.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Clip;

/// <summary>Forward leaves no native tensor behind once its output is disposed.</summary>
[Trait("Category", "unit")]
public class ClipTextModelMemoryTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData(-2, false)]
    [InlineData(-2, true)]
    public void ForwardLeaksNoTensors(int? outputLayer, bool skipFinalLayers)
    {
        using var inference = torch.inference_mode();
        using var model = TinyClip.Load("text_encoder_2");
        using var file = SafeTensorsFile.Open(Fixtures.Path("text-encoders", "data.safetensors"));
        using var ids = file.Read("input_ids_2");
        using (model.Forward(ids, outputLayer, skipFinalLayers)) { } // warm-up
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var output = model.Forward(ids, outputLayer, skipFinalLayers);
        Assert.True(DisposeScopeManager.Statistics.ThreadTotalLiveCount > before, "the counter sees the output");
        output.Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
