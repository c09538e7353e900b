using LcmLora.Text;
using Xunit;

namespace LcmLora.Tests.Text;

[Trait("Category", "unit")]
public class SdxlTokenizersTests
{
    [Fact]
    public void BuiltInTokenizersEqualTheFixtureFolders()
    {
        var (t1, t2) = SdxlTokenizers.BuiltIn();
        var f1 = ClipTokenizer.FromFolder(Fixtures.Path("tiny-sdxl", "diffusers", "tokenizer"));
        var f2 = ClipTokenizer.FromFolder(Fixtures.Path("tiny-sdxl", "diffusers", "tokenizer_2"));
        foreach (var prompt in new[] { "a photo of an astronaut riding a horse!", "東京 café ☕ at night, 4k", "" })
        {
            Assert.Equal(f1.EncodePadded(prompt).Ids, t1.EncodePadded(prompt).Ids);
            Assert.Equal(f2.EncodePadded(prompt).Ids, t2.EncodePadded(prompt).Ids);
        }
        Assert.Equal(49407, t1.PadTokenId);
        Assert.Equal(0, t2.PadTokenId);
    }

    [Fact]
    public void ModelFolderTokenizersArePreferredOverTheBuiltIn()
    {
        var dir = Fixtures.Path("tiny-sdxl", "diffusers");
        var (t1, t2) = SdxlTokenizers.ForModel(dir);
        Assert.Equal(0, t2.PadTokenId);
        Assert.Equal(49407, t1.PadTokenId);
        var (b1, _) = SdxlTokenizers.ForModel(Fixtures.Path("tiny-sdxl", "sgm"));
        Assert.Equal(77, b1.ModelMaxLength);
    }
}
