using LcmLora.IO;
using LcmLora.Pipelines;
using Xunit;

namespace LcmLora.Tests.IO;

/// <summary>
/// A checkpoint rewritten or truncated in place while loaded: its mapping would serve other bytes (or crash), so reads
/// after the change are refused with a typed exception naming the file. A file replaced by a rename is harmless: the
/// open handle keeps the bytes that were loaded.
/// </summary>
[Trait("Category", "parity")]
public class ChangedOnDiskTests : TempDirectoryTest
{
    private string CopyOfTinyModel()
    {
        var path = TempPath("model.safetensors");
        File.Copy(Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors"), path);
        return path;
    }

    [Theory]
    [InlineData("overwritten")]
    [InlineData("truncated")]
    public void UnfuseRefusesACheckpointChangedInPlace(string change)
    {
        var path = CopyOfTinyModel();
        using var pipeline = SdxlPipeline.Load(path, new PipelineOptions { ConfigDir = Fixtures.TinyConfigDir });
        pipeline.Loras.Add("a", Fixtures.Path("lora", "lora_a.safetensors"));
        pipeline.Loras.Fuse();
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            if (change == "truncated") stream.SetLength(stream.Length / 2);
            else
            {
                // what `cp other model.safetensors` does to a file of the same size: new bytes in the same inode
                stream.Position = stream.Length / 2;
                stream.Write(new byte[stream.Length - stream.Position]);
            }
        }
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5)); // in case the write landed in the same clock tick
        var e = Assert.Throws<SafeTensorsFileChangedException>(() => pipeline.Loras.Unfuse());
        Assert.Equal(path, e.FilePath);
        Assert.Contains(path, e.Message);
        Assert.Contains("changed on disk", e.Message);
    }

    [Fact]
    public void AFileReplacedByARenameKeepsServingTheOpenedBytes()
    {
        var path = CopyOfTinyModel();
        using var file = SafeTensorsFile.Open(path);
        var name = file.Tensors.First(t => t.ByteLength > 0).Name;
        var before = file.RawBytes(name).ToArray();
        File.WriteAllBytes(TempPath("other"), new byte[16]);
        File.Move(TempPath("other"), path, overwrite: true);
        Assert.Equal(before, file.RawBytes(name).ToArray());
    }

    [Fact]
    public void AppendingIsAChangeToo()
    {
        var path = CopyOfTinyModel();
        using var file = SafeTensorsFile.Open(path);
        using (var stream = new FileStream(path, FileMode.Append)) stream.Write(new byte[8]);
        var e = Assert.Throws<SafeTensorsFileChangedException>(() => file.Read(file.Tensors[0].Name));
        Assert.Contains("size", e.Message);
    }
}
