using LcmLora.Imaging;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Imaging;

[Trait("Category", "unit")]
public class ImagingTests
{
    [Fact]
    public void DecoderRangeMapsToBytesAsDiffusersDoes()
    {
        // -1 -> 0, 1 -> 255, 0 -> round(127.5) = 128 (torch rounds half to even: 127.5 -> 128), out of range clamps.
        using var t = torch.tensor(new float[] { -1f, 1f, 0f, 3f, -3f, 0.5f }).reshape(1, 3, 1, 2);
        using var unit = ImageTensors.ToUnitRange(t);
        var img = Assert.Single(ImageTensors.ToImages(unit));
        Assert.Equal(new byte[] { 0, 128, 0, 255, 255, 191 }, img.Pixels);
    }

    [Fact]
    public void PngRoundTripIsLossless()
    {
        var rng = new Random(3);
        var pixels = new byte[7 * 5 * 3];
        rng.NextBytes(pixels);
        var image = new RgbImage(7, 5, pixels);
        var path = Path.Combine(Path.GetTempPath(), $"lcmlora-{Guid.NewGuid():N}.png");
        try
        {
            PngCodec.Save(image, path);
            var back = PngCodec.Load(path);
            Assert.Equal(image.Width, back.Width);
            Assert.Equal(image.Pixels, back.Pixels);
            Assert.Equal(pixels[3], back[1, 0].R);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ImagesToTensorAndBack()
    {
        var image = new RgbImage(2, 1, [0, 255, 51, 102, 204, 255]);
        using var t = ImageTensors.FromImages([image]);
        Assert.Equal(new long[] { 1, 3, 1, 2 }, t.shape);
        Assert.Equal(-1f, t[0, 0, 0, 0].item<float>());
        Assert.Equal(1f, t[0, 1, 0, 0].item<float>());
        using var unit = ImageTensors.ToUnitRange(t);
        Assert.Equal(image.Pixels, ImageTensors.ToImages(unit)[0].Pixels);
    }

    [Fact]
    public void ResizeAndBadFiles()
    {
        var image = new RgbImage(4, 4, Enumerable.Repeat((byte)200, 48).ToArray());
        var resized = PngCodec.Resize(image, 8, 2);
        Assert.Equal((8, 2), (resized.Width, resized.Height));
        Assert.All(resized.Pixels, p => Assert.InRange(p, 198, 202));
        var bad = Path.GetTempFileName();
        try { Assert.Throws<LcmLoraInputException>(() => PngCodec.Load(bad)); }
        finally { File.Delete(bad); }
    }

    [Fact]
    public void DecodeReadsEncodedBytesBackAndNamesTheSourceOfBadOnes()
    {
        var pixels = Enumerable.Range(0, 5 * 3 * 3).Select(i => (byte)(i * 5)).ToArray();
        var back = PngCodec.Decode(PngCodec.Encode(new RgbImage(5, 3, pixels)), "upload");
        Assert.Equal((5, 3), (back.Width, back.Height));
        Assert.Equal(pixels, back.Pixels);
        var e = Assert.Throws<LcmLoraInputException>(() => PngCodec.Decode("hello"u8.ToArray(), "initImage"));
        Assert.StartsWith("initImage:", e.Message);
    }
}
