using LcmLora.Checkpoints;
using LcmLora.Models;
using Xunit;

namespace LcmLora.Tests.Checkpoints;

[Trait("Category", "unit")]
public class DiffusersFolderTests : TempDirectoryTest
{
    [Fact]
    public void FindsTheTinyFixtureComponents()
    {
        var folder = DiffusersFolder.Open(Fixtures.Path("tiny-sdxl", "diffusers"));
        Assert.EndsWith("diffusion_pytorch_model.safetensors", Assert.Single(folder.WeightFiles(ModelComponent.Unet)));
        Assert.EndsWith("model.safetensors", Assert.Single(folder.WeightFiles(ModelComponent.TextEncoder2)));
        Assert.EndsWith("config.json", folder.ConfigPath(ModelComponent.Vae));
    }

    [Fact]
    public void AControlNetPipelineFolderOpensWithItsFourModelComponentsOnly()
    {
        // diffusers saves a ControlNet pipeline with a controlnet/ folder beside unet/ and vae/: it comes on its own
        // (ComponentCheckpoint), so the model keeps its four components and its weight files map as before.
        CopyTree(Fixtures.Path("tiny-sdxl", "diffusers"), TempDir);
        CopyTree(Fixtures.Path("controlnet-sdxl", "controlnet"), Path.Combine(TempDir, ModelComponent.ControlNet.Name()));
        Assert.NotNull(DiffusersFolder.Open(TempDir).ComponentDir(ModelComponent.ControlNet));
        using var checkpoint = SdxlCheckpoint.Open(TempDir);
        Assert.Equal(ModelComponents.All, checkpoint.Components);
        Assert.All(checkpoint.Inspect(), r => Assert.True(r.IsComplete, r.Component));
    }

    [Fact]
    public void ResolvesShardsFromTheIndexAndPrefersTheRequestedVariant()
    {
        var unet = Directory.CreateDirectory(Path.Combine(TempDir, "unet")).FullName;
        File.WriteAllText(Path.Combine(TempDir, "model_index.json"), "{}");
        File.WriteAllText(Path.Combine(unet, "diffusion_pytorch_model.safetensors.index.json"),
            "{\"weight_map\": {\"a\": \"part-2.safetensors\", \"b\": \"part-1.safetensors\", \"c\": \"part-2.safetensors\"}}");
        File.WriteAllText(Path.Combine(unet, "part-1.safetensors"), "");
        File.WriteAllText(Path.Combine(unet, "part-2.safetensors"), "");
        File.WriteAllText(Path.Combine(unet, "diffusion_pytorch_model.fp16.safetensors"), "");
        var folder = DiffusersFolder.Open(TempDir);
        Assert.Equal(new[] { "part-1.safetensors", "part-2.safetensors" }, folder.WeightFiles(ModelComponent.Unet).Select(Path.GetFileName));
        Assert.Equal("diffusion_pytorch_model.fp16.safetensors", Path.GetFileName(Assert.Single(folder.WeightFiles(ModelComponent.Unet, "fp16"))));
    }

    [Fact]
    public void PickleOnlyComponentsAndMissingShardsAreClearErrors()
    {
        var vae = Directory.CreateDirectory(Path.Combine(TempDir, "vae")).FullName;
        Directory.CreateDirectory(Path.Combine(TempDir, "unet"));
        File.WriteAllText(Path.Combine(vae, "diffusion_pytorch_model.bin"), "");
        var folder = DiffusersFolder.Open(TempDir);
        Assert.Contains("never unpickles", Assert.Throws<LcmLoraInputException>(() => folder.WeightFiles(ModelComponent.Vae)).Message);
        File.WriteAllText(Path.Combine(TempDir, "unet", "diffusion_pytorch_model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"gone.safetensors\"}}");
        Assert.Contains("gone.safetensors", Assert.Throws<LcmLoraInputException>(() => folder.WeightFiles(ModelComponent.Unet)).Message);
    }

    [Fact]
    public void NotAPipelineFolder()
    {
        Assert.Throws<LcmLoraInputException>(() => DiffusersFolder.Open(TempDir));
        Assert.Throws<DirectoryNotFoundException>(() => DiffusersFolder.Open(Path.Combine(TempDir, "nope")));
    }
}
