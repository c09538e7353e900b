using LcmLora.Lora;
using Xunit;

namespace LcmLora.Tests.Lora;

/// <summary>
/// Fusing a diffusers folder: the result is written as a temporary sibling and swapped in, weight files fuse would
/// copy unfused are refused, and symbolic-link loops are not followed.
/// </summary>
[Trait("Category", "cli")]
public class FolderFuseOutputTests : TempDirectoryTest
{
    private static LoraSpec[] Lora => [new LoraSpec(Fixtures.Path("lora", "lora_c.safetensors"))];

    private string CopyOfTinyModel()
    {
        var target = TempPath("model");
        CopyTree(Fixtures.Path("tiny-sdxl", "diffusers"), target);
        return target;
    }

    [Fact]
    public void ExtraWeightFilesAreRefusedBeforeLoading()
    {
        var model = CopyOfTinyModel();
        File.Copy(Path.Combine(model, "unet", "diffusion_pytorch_model.safetensors"), Path.Combine(model, "unet", "diffusion_pytorch_model.fp16.safetensors"));
        var e = Assert.ThrowsAny<LcmLoraInputException>(() => CheckpointLoraFusion.Fuse(model, Lora, TempPath("out")));
        Assert.Contains("diffusion_pytorch_model.fp16.safetensors", e.Message);
        Assert.False(Directory.Exists(TempPath("out")));
    }

    [Fact]
    public void RefusingIntoAnExistingFolderReplacesItWhole()
    {
        var output = TempPath("out");
        Directory.CreateDirectory(Path.Combine(output, "unet"));
        File.WriteAllText(Path.Combine(output, "stale.txt"), "from an older fuse");
        CheckpointLoraFusion.Fuse(Fixtures.Path("tiny-sdxl", "diffusers"), Lora, output);
        Assert.False(File.Exists(Path.Combine(output, "stale.txt")));
        Assert.True(File.Exists(Path.Combine(output, "unet", "diffusion_pytorch_model.safetensors")));
        Assert.Equal([output], Directory.GetFileSystemEntries(TempDir));
    }

    [Fact]
    public void ASymbolicLinkLoopInTheModelFolderIsNotFollowed()
    {
        if (OperatingSystem.IsWindows()) return;
        var model = CopyOfTinyModel();
        Directory.CreateSymbolicLink(Path.Combine(model, "tokenizer", "loop"), model);
        var output = TempPath("out");
        CheckpointLoraFusion.Fuse(model, Lora, output);
        Assert.True(File.Exists(Path.Combine(output, "tokenizer", "vocab.json")));
        Assert.False(Directory.Exists(Path.Combine(output, "tokenizer", "loop")));
    }
}
