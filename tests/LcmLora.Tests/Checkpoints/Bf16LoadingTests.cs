using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Models;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Checkpoints;

/// <summary>
/// fp32, fp16 and bf16 files load straight into bf16: every weight equals the file's value rounded once to bf16
/// (no detour that would round twice), the VAE included (bf16 needs no force_upcast).
/// </summary>
[Trait("Category", "parity")]
public sealed class Bf16LoadingTests : TempDirectoryTest
{
    /// <summary>The tiny single file rewritten with every float tensor in <paramref name="dtype"/>.</summary>
    internal static string TinyFileIn(string dir, torch.ScalarType dtype)
    {
        var path = Path.Combine(dir, $"tiny_{dtype}.safetensors");
        using var source = SafeTensorsFile.Open(Fixtures.TinySgm);
        using var scope = torch.NewDisposeScope();
        SafeTensorsWriter.Save(path, source.Tensors.ToDictionary(t => t.Name, t =>
        {
            var value = source.Read(t.Name);
            return value.is_floating_point() ? value.to(dtype) : value;
        }));
        return path;
    }

    [Theory]
    [InlineData(torch.ScalarType.Float32)]
    [InlineData(torch.ScalarType.Float16)]
    [InlineData(torch.ScalarType.BFloat16)]
    public void EveryWeightIsTheFileValueRoundedOnceToBf16(torch.ScalarType stored)
    {
        var path = TinyFileIn(TempDir, stored);
        using var checkpoint = SdxlCheckpoint.Open(path, configDir: Fixtures.TinyConfigDir);
        using var models = checkpoint.Load(dtype: torch.ScalarType.BFloat16);
        Assert.Equal(torch.ScalarType.BFloat16, models.DType);
        var compared = 0;
        foreach (var component in models.Components.Keys)
        {
            var state = models.Components[component].state_dict();
            var map = checkpoint.MapFor(ModelComponents.Parse(component), state.Keys);
            foreach (var (name, live) in state)
            {
                if (live.device_type == DeviceType.META) continue; // the lazily loaded VAE encoder
                Assert.Equal(torch.ScalarType.BFloat16, live.dtype);
                using var asStored = checkpoint.SourceFor(ModelComponents.Parse(component)).Read(map.Entries[name], stored);
                Assert.Equal(stored, asStored.dtype);
                using var expected = asStored.to(torch.ScalarType.BFloat16);
                TensorAssert.Identical(expected, live, $"{component}.{name}");
                compared++;
            }
        }
        Assert.True(compared > 100, $"only {compared} weights compared");
    }
}
