using LcmLora.IO;
using Xunit;

namespace LcmLora.Tests.Cli;

[Trait("Category", "cli")]
public class FuseCommandTests : TempDirectoryTest
{
    [Fact]
    public void FusingLcmAndStyleIntoTheSingleFileGivesTheReferenceCheckpoint()
    {
        var output = Path.Combine(TempDir, "fused.safetensors");
        var input = Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors");
        var r = CliRunner.Run("fuse", "--model", input, "--lora", Fixtures.Path("lora", "lora_b.safetensors") + ":1.0",
            "--lora", Fixtures.Path("lora", "lora_a.safetensors") + ":0.8", "--out", output, "--json", "--config", Fixtures.TinyConfigDir);
        Assert.True(r.ExitCode == 0, r.Err);
        using var fused = SafeTensorsFile.Open(output);
        using var original = SafeTensorsFile.Open(input);
        using var expected = SafeTensorsFile.Open(Fixtures.Path("lora", "fused_single_file", "changed_tensors.safetensors"));
        Assert.Equal(original.Tensors.Select(t => t.Name), fused.Tensors.Select(t => t.Name));
        Assert.Equal(original.Metadata, fused.Metadata);
        var changed = expected.Tensors.Select(t => t.Name).ToHashSet();
        Assert.Equal(227, changed.Count);
        foreach (var t in original.Tensors)
        {
            if (changed.Contains(t.Name)) TensorAssert.Close(expected.Read(t.Name), fused.Read(t.Name), 1e-5, t.Name);
            else Assert.True(original.RawBytes(t.Name).SequenceEqual(fused.RawBytes(t.Name)), $"{t.Name} changed");
        }
    }

    [Fact]
    public void FusingIntoADiffusersFolderWritesAFolderThatLoads()
    {
        var output = Path.Combine(TempDir, "fused-folder");
        var r = CliRunner.Run("fuse", "--model", Fixtures.Path("tiny-sdxl", "diffusers"), "--lora", Fixtures.Path("lora", "lora_c.safetensors"), "--out", output, "--dtype", "fp16");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.True(File.Exists(Path.Combine(output, "model_index.json")));
        Assert.True(File.Exists(Path.Combine(output, "tokenizer_2", "vocab.json")));
        using var unet = SafeTensorsFile.Open(Path.Combine(output, "unet", "diffusion_pytorch_model.safetensors"));
        Assert.All(unet.Tensors, t => Assert.Equal(SafeTensorDType.F16, t.DType));
        using var checkpoint = LcmLora.Checkpoints.SdxlCheckpoint.Open(output);
        Assert.All(checkpoint.Inspect(), report => Assert.True(report.IsComplete));
    }

    [Fact]
    public void ALoraThatMatchesNothingIsBadInput()
    {
        var r = CliRunner.Run("fuse", "--model", Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors"),
            "--lora", Fixtures.Path("unet-forward", "data.safetensors"), "--out", Path.Combine(TempDir, "x.safetensors"), "--config", Fixtures.TinyConfigDir);
        Assert.Equal(2, r.ExitCode);
        Assert.False(File.Exists(Path.Combine(TempDir, "x.safetensors")));
    }
}
