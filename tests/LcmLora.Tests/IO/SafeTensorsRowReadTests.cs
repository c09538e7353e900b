using LcmLora.Checkpoints;
using LcmLora.IO;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.IO;

/// <summary>Row-range reads, conversion through a reused staging buffer, and split parts that own their storage.</summary>
[Trait("Category", "unit")]
public class SafeTensorsRowReadTests : TempDirectoryTest
{
    private string Write(params (string Name, torch.Tensor Value)[] tensors)
    {
        var path = System.IO.Path.Combine(TempDir, "rows.safetensors");
        SafeTensorsWriter.Save(path, tensors.ToDictionary(t => t.Name, t => t.Value));
        return path;
    }

    [Theory]
    [InlineData(torch.ScalarType.Float16)]
    [InlineData(torch.ScalarType.BFloat16)]
    [InlineData(torch.ScalarType.Float32)]
    public void RowRangeEqualsTheSameRowsOfTheWholeTensor(torch.ScalarType disk)
    {
        using var scope = torch.NewDisposeScope();
        var source = torch.randn(new long[] { 12, 5, 3 }, generator: new torch.Generator(3)).to(disk);
        using var file = SafeTensorsFile.Open(Write(("w", source)));
        var rows = file.ReadRows("w", 4, 4, torch.ScalarType.Float32);
        Assert.Equal(new long[] { 4, 5, 3 }, rows.shape);
        Assert.Equal(torch.ScalarType.Float32, rows.dtype);
        TensorAssert.Identical(source.narrow(0, 4, 4).to(torch.ScalarType.Float32), rows);
    }

    [Fact]
    public void OneStagingBufferServesTensorsOfDifferentSizesAndTypes()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(5);
        var big = torch.randn(new long[] { 64, 33 }, generator: gen).to(torch.ScalarType.Float16);
        var small = torch.randn(new long[] { 7 }, generator: gen).to(torch.ScalarType.Float16);
        var bf = torch.randn(new long[] { 9, 2 }, generator: gen).to(torch.ScalarType.BFloat16);
        using var file = SafeTensorsFile.Open(Write(("big", big), ("small", small), ("bf", bf)));
        using var staging = new StagingBuffer();
        var a = file.Read("big", torch.ScalarType.Float32, null, staging);
        var capacity = staging.Capacity;
        Assert.Equal(64 * 33 * 2, capacity);
        var b = file.Read("small", torch.ScalarType.Float32, null, staging);
        Assert.Equal(capacity, staging.Capacity); // reused, not regrown
        var c = file.Read("bf", torch.ScalarType.Float32, null, staging);
        // Results own their memory: overwriting the staging buffer later must not change earlier results.
        TensorAssert.Identical(big.to(torch.ScalarType.Float32), a);
        TensorAssert.Identical(small.to(torch.ScalarType.Float32), b);
        TensorAssert.Identical(bf.to(torch.ScalarType.Float32), c);
    }

    [Fact]
    public void RowsOutsideTheTensorAreRefusedWithTheFileAndKey()
    {
        using var scope = torch.NewDisposeScope();
        using var file = SafeTensorsFile.Open(Write(("w", torch.zeros(3, 2))));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => file.ReadRows("w", 2, 2));
        Assert.Contains("rows.safetensors", e.Message);
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void SplitPartsOwnOnlyTheirRows()
    {
        // OpenCLIP's fused in_proj_weight becomes three parameters; each must hold its own rows, not a view that
        // keeps the whole fused tensor alive (that cost 1.26 GB on a full SDXL load).
        using var scope = torch.NewDisposeScope();
        var fused = torch.arange(0, 6 * 4, dtype: torch.ScalarType.Float32).reshape(6, 4).to(torch.ScalarType.Float16);
        using var source = CheckpointTensors.Open(Write(("in_proj", fused)));
        for (var part = 0; part < 3; part++)
        {
            var t = source.Read(new TensorRef("in_proj", Part: part, Parts: 3), torch.ScalarType.Float32);
            Assert.Equal(0, t.storage_offset());
            Assert.Equal(2 * 4, t.storage<float>().Count);
            Assert.Equal(new long[] { 2, 4 }, t.shape);
            TensorAssert.Identical(fused.narrow(0, 2 * part, 2).to(torch.ScalarType.Float32), t);
        }
    }
}
