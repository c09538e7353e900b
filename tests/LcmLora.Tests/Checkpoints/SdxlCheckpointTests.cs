using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Models;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Checkpoints;

[Trait("Category", "unit")]
public class SdxlCheckpointTests
{
    private static string SingleFile => Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors");
    private static string Folder => Fixtures.Path("tiny-sdxl", "diffusers");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TinyCheckpointMapsCompletelyInBothLayouts(bool singleFile)
    {
        using var ckpt = SdxlCheckpoint.Open(singleFile ? SingleFile : Folder, configDir: singleFile ? Fixtures.TinyConfigDir : null);
        Assert.Equal(singleFile ? CheckpointLayout.SgmSingleFile : CheckpointLayout.Diffusers, ckpt.Layout);
        var reports = ckpt.Inspect();
        Assert.All(reports, r => Assert.True(r.IsComplete, $"{r.Component}: {string.Join(", ", r.Missing.Concat(r.Unexpected).Concat(r.ShapeMismatches))}"));
        Assert.Equal(32, ckpt.Configs.Unet.BlockOutChannels[0]);
        Assert.Equal(40, ckpt.Configs.TextEncoder2!.HiddenSize);
    }

    [Fact]
    public void BothLayoutsLoadToIdenticalWeights()
    {
        using var a = SdxlCheckpoint.Open(SingleFile, configDir: Fixtures.TinyConfigDir);
        using var b = SdxlCheckpoint.Open(Folder);
        using var ma = a.Load();
        using var mb = b.Load();
        foreach (var (name, module) in ma.Components)
        {
            var sa = module.state_dict();
            var sb = mb.Components[name].state_dict();
            Assert.Equal(sb.Keys.Order(), sa.Keys.Order());
            foreach (var (k, v) in sa) TensorAssert.Identical(sb[k], v, $"{name}.{k}");
        }
    }

    [Fact]
    public void Float16LoadKeepsTheVaeInFloat32ButBFloat16HoldsItInBFloat16()
    {
        // force_upcast (the SDXL VAE overflows in fp16) applies to fp16 only; bf16 has fp32's range, as in diffusers.
        using var ckpt = SdxlCheckpoint.Open(SingleFile, configDir: Fixtures.TinyConfigDir);
        using (var half = ckpt.Load(dtype: torch.ScalarType.Float16))
        {
            Assert.Equal(torch.ScalarType.Float16, half.Unet.parameters().First().dtype);
            Assert.Equal(torch.ScalarType.Float32, half.Vae.parameters().First().dtype);
        }
        using var bf16 = ckpt.Load(dtype: torch.ScalarType.BFloat16);
        Assert.Equal(torch.ScalarType.BFloat16, bf16.Unet.parameters().First().dtype);
        Assert.Equal(torch.ScalarType.BFloat16, bf16.Vae.parameters().First().dtype);
    }

    [Fact]
    public void ABadFileLeavesNothingLoadedAndNamesTheKeys()
    {
        var dir = Directory.CreateTempSubdirectory("lcmlora-ck-").FullName;
        try
        {
            using var src = SafeTensorsFile.Open(SingleFile);
            var writer = new SafeTensorsWriter();
            foreach (var t in src.Tensors.Where(t => t.Name != "model.diffusion_model.out.2.weight")) writer.AddRaw(src, t.Name);
            var path = Path.Combine(dir, "broken.safetensors");
            writer.Save(path);
            var e = Assert.ThrowsAny<LcmLoraInputException>(() => { using var c = SdxlCheckpoint.Open(path, BuiltInModels.TinyConfigs()); c.Load(); });
            Assert.Contains("model.diffusion_model.out.2.weight", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void FullSizeSingleFileWithReleasedExtraKeysMapsCompletelyFromHeadersAlone()
    {
        // A sparse file: the header of a full-size SDXL single file (from the manifest, plus keys released files carry)
        // and a data section that occupies no disk space. Inspect must read headers only.
        var path = Path.Combine(Path.GetTempPath(), $"lcmlora-fullsize-{Guid.NewGuid():N}.safetensors");
        try
        {
            var shapes = Manifests.Sgm().ToList();
            shapes.Add(new("conditioner.embedders.1.model.logit_scale", []));
            shapes.Add(new("conditioner.embedders.0.transformer.text_model.embeddings.position_ids", [1, 77]));
            SparseCheckpoint.Write(path, shapes);
            using var ckpt = SdxlCheckpoint.Open(path);
            ConfigAssert.Equal(SdxlConfigs.SdxlBase, ckpt.Configs);
            var reports = ckpt.Inspect();
            Assert.All(reports, r => Assert.True(r.IsComplete, $"{r.Component}: {string.Join(", ", r.Missing.Concat(r.Unexpected).Concat(r.ShapeMismatches).Take(5))}"));
            Assert.Equal(2_567_463_684, reports.Single(r => r.Component == "unet").Parameters);
            Assert.Equal(123_060_480, reports.Single(r => r.Component == "text_encoder").Parameters);
            Assert.Equal(694_659_840, reports.Single(r => r.Component == "text_encoder_2").Parameters);
            Assert.Equal(83_653_863, reports.Single(r => r.Component == "vae").Parameters);
        }
        finally { File.Delete(path); }
    }
}
