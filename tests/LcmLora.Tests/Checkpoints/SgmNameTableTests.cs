using LcmLora.Checkpoints;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Checkpoints;

[Trait("Category", "unit")]
public class SgmNameTableTests
{
    [Fact]
    public void FullSizeUNetNamesRenderOntoEverySgmKeyWithEqualShapes()
    {
        var ours = Manifests.Diffusers("unet");
        var sgm = Manifests.Sgm().Where(kv => kv.Key.StartsWith(UNetSgmNames.CheckpointPrefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        var map = new UNetSgmNames(ours.Keys, layersPerBlock: 2).CheckpointMap(ours.Keys);
        var rendered = ours.Keys.Select(k => map.Entries[k].Key).ToList();
        Assert.Equal(rendered.Count, rendered.Distinct().Count());
        Assert.Equal(sgm.Keys.Order(), rendered.Order());
        foreach (var (name, shape) in ours) Assert.Equal(shape, sgm[map.Entries[name].Key]);
    }

    [Fact]
    public void FullSizeVaeNamesRenderOntoEverySgmKeyWithEqualShapes()
    {
        var ours = Manifests.Diffusers("vae");
        var sgm = Manifests.Sgm().Where(kv => kv.Key.StartsWith(VaeSgmNames.CheckpointPrefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        var map = new VaeSgmNames(levels: 4).CheckpointMap(ours.Keys);
        Assert.Equal(sgm.Keys.Order(), ours.Keys.Select(k => map.Entries[k].Key).Order());
        foreach (var (name, shape) in ours)
        {
            var r = map.Entries[name];
            var stored = sgm[r.Key];
            var expected = r.Transform == TensorTransform.SqueezeConv1x1 ? stored[..2] : stored;
            Assert.Equal(shape, expected);
        }
    }

    [Theory]
    [InlineData("unet", "unet/diffusion_pytorch_model.safetensors")]
    [InlineData("vae", "vae/diffusion_pytorch_model.safetensors")]
    public void TinySingleFileHoldsTheSameWeightsAsTheDiffusersFolder(string component, string file)
    {
        using var diffusers = CheckpointTensors.Open(Fixtures.Path("tiny-sdxl", "diffusers", file));
        using var single = CheckpointTensors.Open(Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors"));
        var names = diffusers.Keys.ToList();
        var map = component == "unet"
            ? new UNetSgmNames(names, layersPerBlock: 2).CheckpointMap(names)
            : new VaeSgmNames(levels: 2).CheckpointMap(names);
        var report = MappingReport.Build(component, names.ToDictionary(n => n, n => diffusers.Info(n).Shape), map, single);
        Assert.True(report.IsComplete, string.Join("; ", report.Missing.Concat(report.Unexpected).Concat(report.ShapeMismatches)));
        foreach (var name in names)
        {
            using var a = diffusers.Read(new TensorRef(name), torch.ScalarType.Float32);
            using var b = single.Read(map.Entries[name], torch.ScalarType.Float32);
            TensorAssert.Identical(a, b, name);
        }
    }
}
