using LcmLora.Models;
using LcmLora.Models.Clip;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Models.Clip;

[Trait("Category", "unit")]
public class EmbeddingTableTests
{
    private static long AnonymousRssKiB() =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssAnon:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    [Fact]
    public void FullSizeTextEncodersBuiltOnMetaAllocateNoTables()
    {
        // nn.Embedding allocated and randomly filled its table on the CPU even for meta (0.15 + 0.25 GB per build).
        if (!OperatingSystem.IsLinux()) return;
        var before = AnonymousRssKiB();
        for (var i = 0; i < 3; i++)
        {
            using var l = new ClipTextModel(SdxlConfigs.SdxlBase.TextEncoder!, torch.device("meta"));
            using var g = new ClipTextModel(SdxlConfigs.SdxlBase.TextEncoder2!, torch.device("meta"));
            Assert.All(g.parameters(), p => Assert.Equal(DeviceType.META, p.device_type));
        }
        var grownMiB = (AnonymousRssKiB() - before) / 1024.0;
        Assert.True(grownMiB < 200, $"building the text encoders on meta 3 times grew anonymous memory by {grownMiB:F0} MiB");
    }

    [Fact]
    public void LooksUpRowsForIdsOfAnyShape()
    {
        using var scope = torch.NewDisposeScope();
        using var table = new EmbeddingTable(10, 3);
        var ids = torch.tensor(new long[] { 4, 0, 9, 4, 1, 2 }).reshape(2, 3);
        var rows = table.call(ids);
        Assert.Equal(new long[] { 2, 3, 3 }, rows.shape);
        for (var i = 0; i < 2; i++)
            for (var j = 0; j < 3; j++)
                TensorAssert.Identical(table.weight[ids[i, j].item<long>()], rows[i, j]);
        Assert.True(table.weight.std().item<float>() > 0.5f, "a table on a real device starts random like nn.Embedding, not zero");
    }
}
