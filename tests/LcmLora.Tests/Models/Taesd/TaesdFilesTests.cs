using LcmLora.Checkpoints.Taesd;
using LcmLora.Models.Taesd;
using Xunit;

namespace LcmLora.Tests.Models.Taesd;

/// <summary>Finding TAESD weights in the folders and files users have, and refusing everything else.</summary>
[Trait("Category", "unit")]
public class TaesdFilesTests
{
    [Fact]
    public void DiffusersFolder()
    {
        var found = TaesdFiles.Locate(TaesdFixture.DiffusersFolder);
        Assert.Equal(TaesdLayout.Diffusers, found.Layout);
        Assert.Equal(TaesdParts.Both, found.Parts);
        Assert.Equal(TaesdFixture.DiffusersWeights, found.DiffusersWeights);
        Assert.Equal(Path.Combine(TaesdFixture.DiffusersFolder, "config.json"), found.ConfigJson);
    }

    [Fact]
    public void DiffusersWeightsFileUsesTheConfigBesideIt()
    {
        var found = TaesdFiles.Locate(TaesdFixture.DiffusersWeights);
        Assert.Equal(TaesdLayout.Diffusers, found.Layout);
        Assert.NotNull(found.ConfigJson);
    }

    [Fact]
    public void DiffusersWeightsFileWithoutConfigUsesThePreset()
    {
        using var temp = new TaesdFixture.TempFolder();
        var file = temp.Copy(TaesdFixture.DiffusersWeights, "taesdxl.safetensors");
        var found = TaesdFiles.Locate(file);
        Assert.Null(found.ConfigJson);
        using var model = TaesdCheckpoint.Load(file);
        Assert.Equal(TaesdConfig.TaesdXl, model.Config);
        // The same file found by scanning its folder.
        Assert.Equal(file, TaesdFiles.Locate(temp.Dir).DiffusersWeights);
    }

    [Fact]
    public void OriginalFolderPairsEncoderAndDecoder()
    {
        var found = TaesdFiles.Locate(TaesdFixture.OriginalFolder);
        Assert.Equal(TaesdLayout.Original, found.Layout);
        Assert.Equal(TaesdParts.Both, found.Parts);
        Assert.Equal(TaesdFixture.EncoderFile, found.EncoderFile);
        Assert.Equal(TaesdFixture.DecoderFile, found.DecoderFile);
        Assert.Null(found.ConfigJson);
    }

    [Fact]
    public void SingleOriginalFilesAreOneHalf()
    {
        var decoder = TaesdFiles.Locate(TaesdFixture.DecoderFile);
        Assert.Equal((TaesdLayout.Original, TaesdParts.Decoder, TaesdFixture.DecoderFile, (string?)null),
            (decoder.Layout, decoder.Parts, decoder.DecoderFile, decoder.EncoderFile));
        var encoder = TaesdFiles.Locate(TaesdFixture.EncoderFile);
        Assert.Equal((TaesdParts.Encoder, TaesdFixture.EncoderFile), (encoder.Parts, encoder.EncoderFile));
    }

    [Fact]
    public void FolderWithOnlyADecoderIsDecoderOnly_AndNamesDoNotMatter()
    {
        using var temp = new TaesdFixture.TempFolder();
        var file = temp.Copy(TaesdFixture.DecoderFile, "my-preview-vae.safetensors");
        var found = TaesdFiles.Locate(temp.Dir);
        Assert.Equal(TaesdParts.Decoder, found.Parts);
        Assert.Equal(file, found.DecoderFile);
    }

    [Fact]
    public void SeveralDecodersPreferTaesdxlOrAreRefused()
    {
        using var temp = new TaesdFixture.TempFolder();
        temp.Copy(TaesdFixture.DecoderFile, "taesd_decoder.safetensors");
        var xl = temp.Copy(TaesdFixture.DecoderFile, "taesdxl_decoder.safetensors");
        Assert.Equal(xl, TaesdFiles.Locate(temp.Dir).DecoderFile);

        temp.Copy(TaesdFixture.DecoderFile, "taesdxl_decoder_copy.safetensors");
        var e = Assert.Throws<LcmLoraInputException>(() => TaesdFiles.Locate(temp.Dir));
        Assert.Contains(temp.Dir, e.Message);
        Assert.Contains("several original decoder files", e.Message);
    }

    [Fact]
    public void AutoencoderKlFolderIsRefused()
    {
        var vae = Fixtures.Path("tiny-sdxl", "diffusers", "vae");
        var e = Assert.Throws<LcmLoraInputException>(() => TaesdCheckpoint.Load(vae));
        Assert.Contains(vae, e.Message);
        Assert.Contains("AutoencoderKL", e.Message);
        Assert.Contains("taesdxl_decoder.safetensors", e.Message);
    }

    [Fact]
    public void SingleFileCheckpointIsRefused()
    {
        var file = Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors");
        var e = Assert.Throws<LcmLoraInputException>(() => TaesdCheckpoint.Load(file));
        Assert.Contains(file, e.Message);
        Assert.Contains("AutoencoderKL", e.Message);
    }

    [Fact]
    public void MissingPathAndEmptyFolderAreRefused()
    {
        var missing = Path.Combine(Path.GetTempPath(), "lcmlora-no-such-taesd-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<LcmLoraInputException>(() => TaesdCheckpoint.Load(missing));
        Assert.Contains(missing, e.Message);
        Assert.Contains("not found", e.Message);

        using var temp = new TaesdFixture.TempFolder();
        e = Assert.Throws<LcmLoraInputException>(() => TaesdCheckpoint.Load(temp.Dir));
        Assert.Contains(temp.Dir, e.Message);
        Assert.Contains("no TAESD weights found", e.Message);
    }

    [Fact]
    public void FolderWithOnlyPickleWeightsSaysSo()
    {
        using var temp = new TaesdFixture.TempFolder();
        File.WriteAllBytes(Path.Combine(temp.Dir, "taesdxl_decoder.pth"), [0x80, 0x02]);
        var e = Assert.Throws<LcmLoraInputException>(() => TaesdFiles.Locate(temp.Dir));
        Assert.Contains("taesdxl_decoder.pth", e.Message);
        Assert.Contains("pickle", e.Message);
    }

    [Fact]
    public void PickleFileIsRefused()
    {
        using var temp = new TaesdFixture.TempFolder();
        var file = Path.Combine(temp.Dir, "taesdxl_decoder.pth");
        File.WriteAllBytes(file, [0x80, 0x02]);
        Assert.ThrowsAny<LcmLoraInputException>(() => TaesdCheckpoint.Load(file));
    }
}
