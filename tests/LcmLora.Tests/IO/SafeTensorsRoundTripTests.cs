using LcmLora.IO;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.IO;

[Trait("Category", "unit")]
public class SafeTensorsRoundTripTests : TempDirectoryTest
{
    [Theory]
    [InlineData(torch.ScalarType.Float64)]
    [InlineData(torch.ScalarType.Float32)]
    [InlineData(torch.ScalarType.Float16)]
    [InlineData(torch.ScalarType.BFloat16)]
    [InlineData(torch.ScalarType.Int64)]
    [InlineData(torch.ScalarType.Int32)]
    [InlineData(torch.ScalarType.Int16)]
    [InlineData(torch.ScalarType.Int8)]
    [InlineData(torch.ScalarType.Byte)]
    [InlineData(torch.ScalarType.Bool)]
    public void WriteThenReadGivesIdenticalTensors(torch.ScalarType dtype)
    {
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(7);
        var source = (torch.randn(new long[] { 3, 5, 2 }, generator: gen) * 50).to(dtype);
        var scalar = torch.tensor(3.0).to(dtype);
        var empty = torch.zeros(new long[] { 0, 4 }).to(dtype);
        var path = System.IO.Path.Combine(TempDir, $"{dtype}.safetensors");
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "üñí \"quoted\"" };
        SafeTensorsWriter.Save(path, new Dictionary<string, torch.Tensor> { ["a.b"] = source, ["scalar"] = scalar, ["empty"] = empty }, meta);

        var length = new FileInfo(path).Length;
        var headerLength = BitConverter.ToUInt64(File.ReadAllBytes(path), 0);
        Assert.Equal(0UL, headerLength % 8);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(meta, file.Metadata);
        Assert.Equal(new[] { "a.b", "scalar", "empty" }, file.Tensors.Select(t => t.Name));
        TensorAssert.Identical(source, file.Read("a.b"));
        TensorAssert.Identical(scalar, file.Read("scalar"));
        Assert.Equal(new long[] { 0, 4 }, file.Read("empty").shape);
        Assert.Equal(length, 8 + (long)headerLength + file.Tensors.Sum(t => t.ByteLength));
    }

    [Fact]
    public void Float8IsWidenedToFloat32()
    {
        // e4m3fn: 0x38 = 1.0, 0xC0 = -2.0, 0x7F = NaN; e5m2: 0x3C = 1.0, 0x7C = +inf.
        var path = System.IO.Path.Combine(TempDir, "f8.safetensors");
        new SafeTensorsWriter()
            .Add("e4m3", SafeTensorDType.F8_E4M3, [3], s => s.Write([0x38, 0xC0, 0x7F]))
            .Add("e5m2", SafeTensorDType.F8_E5M2, [2], s => s.Write([0x3C, 0x7C]))
            .Save(path);
        using var file = SafeTensorsFile.Open(path);
        var a = file.Read("e4m3").data<float>().ToArray();
        Assert.Equal(1f, a[0]);
        Assert.Equal(-2f, a[1]);
        Assert.True(float.IsNaN(a[2]));
        var b = file.Read("e5m2").data<float>().ToArray();
        Assert.Equal(new[] { 1f, float.PositiveInfinity }, b);
    }

    [Fact]
    public void RawCopyPreservesBytes()
    {
        var src = Fixtures.Path("tiny-sdxl", "diffusers", "vae", "diffusion_pytorch_model.safetensors");
        using var file = SafeTensorsFile.Open(src);
        var path = System.IO.Path.Combine(TempDir, "copy.safetensors");
        var writer = new SafeTensorsWriter();
        foreach (var t in file.Tensors) writer.AddRaw(file, t.Name);
        writer.Save(path, file.Metadata);
        using var copy = SafeTensorsFile.Open(path);
        foreach (var t in file.Tensors) Assert.True(file.RawBytes(t.Name).SequenceEqual(copy.RawBytes(t.Name)));
    }
}
