using LcmLora.IO;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.IO;

/// <summary>Outputs are written through a flushed temporary file renamed into place; failures leave nothing behind.</summary>
[Trait("Category", "unit")]
public class OutputFileTests : TempDirectoryTest
{
    [Fact]
    public void AFailingWriteLeavesTheOldFileAndNoTemporaryFile()
    {
        var path = TempPath("out.safetensors");
        File.WriteAllText(path, "old");
        var writer = new SafeTensorsWriter();
        writer.Add("a", SafeTensorDType.F32, [4], s => s.Write(new byte[16]));
        // A full disk or an I/O error midway: the writer throws after writing part of the data.
        writer.Add("b", SafeTensorDType.F32, [4], s =>
        {
            s.Write(new byte[8]);
            throw new IOException("No space left on device");
        });
        Assert.Throws<IOException>(() => writer.Save(path));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(TempDir));
    }

    [Fact]
    public void ACancelledSaveWritesNothing()
    {
        using var cancel = new CancellationTokenSource();
        var writer = new SafeTensorsWriter();
        writer.Add("a", SafeTensorDType.F32, [4], s =>
        {
            s.Write(new byte[16]);
            cancel.Cancel();
        });
        writer.Add("b", SafeTensorDType.F32, [4], s => s.Write(new byte[16]));
        Assert.ThrowsAny<OperationCanceledException>(() => writer.Save(TempPath("out.safetensors"), cancellationToken: cancel.Token));
        Assert.Empty(Directory.GetFileSystemEntries(TempDir));
    }

    [Fact]
    public void ASuccessfulSaveLeavesOnlyTheFile()
    {
        var path = TempPath("t.safetensors");
        SafeTensorsWriter.Save(path, new Dictionary<string, torch.Tensor> { ["x"] = torch.ones(3) });
        Assert.Equal([path], Directory.GetFileSystemEntries(TempDir));
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([3L], file.Info("x").Shape);
    }

    [Fact]
    public void DeviceNodesAndFoldersAreRefusedAsTargets()
    {
        if (OperatingSystem.IsLinux())
            Assert.Contains("not a regular file", Assert.Throws<LcmLoraInputException>(() => OutputFile.CheckTarget("/dev/null")).Message);
        Assert.Contains("is a directory", Assert.Throws<LcmLoraInputException>(() => OutputFile.Write(TempDir, s => s.WriteByte(1))).Message);
    }
}
