using System.Text.Json;
using LcmLora.IO;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.IO;

[Trait("Category", "unit")]
public class SafeTensorsFixtureTests
{
    public static IEnumerable<object[]> AllFixtureFiles() =>
        Directory.EnumerateFiles(Fixtures.Root, "*.safetensors", SearchOption.AllDirectories)
            .Select(f => new object[] { System.IO.Path.GetRelativePath(Fixtures.Root, f) });

    [Theory]
    [MemberData(nameof(AllFixtureFiles))]
    public void EveryFixtureOpensAndEveryTensorReads(string relative)
    {
        using var file = SafeTensorsFile.Open(Fixtures.Path(relative));
        Assert.NotEmpty(file.Tensors);
        foreach (var info in file.Tensors)
        {
            using var t = file.Read(info.Name);
            Assert.Equal(info.Shape, t.shape);
            Assert.Equal(info.DType.ToScalarType(), t.dtype);
            if (t.is_floating_point()) Assert.True(t.isfinite().all().item<bool>(), $"{relative}:{info.Name} has non-finite values");
        }
    }

    [Fact]
    public void HeaderShapesAndDtypesAgreeWithCaseFiles()
    {
        var checkedCount = 0;
        foreach (var caseFile in Directory.EnumerateFiles(Fixtures.Root, "case.json", SearchOption.AllDirectories))
        {
            var data = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(caseFile)!, "data.safetensors");
            if (!File.Exists(data)) continue;
            using var doc = JsonDocument.Parse(File.ReadAllText(caseFile));
            if (!doc.RootElement.TryGetProperty("tensors", out var tensors) || tensors.ValueKind != JsonValueKind.Object) continue;
            using var file = SafeTensorsFile.Open(data);
            foreach (var entry in tensors.EnumerateObject())
            {
                if (!entry.Value.TryGetProperty("shape", out var shape)) continue;
                var info = file.Info(entry.Name);
                Assert.Equal(shape.EnumerateArray().Select(e => e.GetInt64()).ToArray(), info.Shape);
                var dtype = entry.Value.GetProperty("dtype").GetString();
                Assert.Equal(dtype switch { "float32" => SafeTensorDType.F32, "int64" => SafeTensorDType.I64, _ => info.DType }, info.DType);
                checkedCount++;
            }
        }
        Assert.True(checkedCount > 20, $"only {checkedCount} tensors checked");
    }

    [Fact]
    public void SpotValuesTokenIdsStartWithBos()
    {
        using var file = SafeTensorsFile.Open(Fixtures.Path("text-encoders", "data.safetensors"));
        using var ids = file.Read("input_ids_1");
        Assert.Equal(torch.ScalarType.Int64, ids.dtype);
        Assert.Equal(49406L, ids[0, 0].item<long>());
        Assert.Equal(49407L, ids[0].max().item<long>());
    }

    [Fact]
    public void SpotValuesSeededNoiseEqualsTorchSharpRandn()
    {
        // torch.manual_seed(s); torch.randn(shape) was recorded by PyTorch; TorchSharp's CPU generator is the same mt19937.
        using var file = SafeTensorsFile.Open(Fixtures.Path("seed-parity.safetensors"));
        var key = file.Tensors.Select(t => t.Name).First(n => n.StartsWith("generator_42.randn_", StringComparison.Ordinal));
        using var expected = file.Read(key);
        using var gen = new torch.Generator(42);
        using var actual = torch.randn(expected.shape, generator: gen);
        TensorAssert.Identical(expected, actual, key);
    }

    [Fact]
    public void ConversionOnReadGivesRequestedDtype()
    {
        using var file = SafeTensorsFile.Open(Fixtures.Path("unet-forward", "data.safetensors"));
        using var f32 = file.Read("sample");
        using var f16 = file.Read("sample", torch.ScalarType.Float16);
        Assert.Equal(torch.ScalarType.Float16, f16.dtype);
        using var back = f16.to(torch.ScalarType.Float32);
        Assert.True(back.allclose(f32, rtol: 1e-3, atol: 1e-3));
    }
}
