using System.Runtime.InteropServices;
using SkiaSharp;

namespace LcmLora.Imaging;

/// <summary>PNG output and image input (PNG, JPEG, WebP: anything SkiaSharp decodes) through SkiaSharp.</summary>
public static class PngCodec
{
    /// <summary>Encodes an image as PNG bytes.</summary>
    public static byte[] Encode(RgbImage image)
    {
        using var bitmap = ToBitmap(image);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Writes an image as a PNG file, atomically (a temporary file beside it, flushed, then renamed into place):
    /// a failed write (e.g. a full disk) leaves no partial or empty PNG.</summary>
    /// <exception cref="LcmLoraInputException">The path is a directory, device node, FIFO or socket.</exception>
    public static void Save(RgbImage image, string path)
    {
        var bytes = Encode(image);
        IO.OutputFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>Decodes an image file to 8-bit RGB (alpha dropped).</summary>
    /// <exception cref="LcmLoraInputException">The file is not an image SkiaSharp can decode.</exception>
    public static RgbImage Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        using var decoded = SKBitmap.Decode(path) ?? throw new LcmLoraInputException($"{path}: not an image that can be decoded (PNG, JPEG, WebP...).");
        return FromBitmap(decoded);
    }

    /// <summary>Decodes image bytes (PNG, JPEG, WebP...) to 8-bit RGB (alpha dropped), e.g. an upload.</summary>
    /// <param name="bytes">The encoded image.</param>
    /// <param name="source">Where the bytes came from, for the error message.</param>
    /// <exception cref="LcmLoraInputException">The bytes are not an image SkiaSharp can decode.</exception>
    public static RgbImage Decode(byte[] bytes, string source)
    {
        // SKBitmap.Decode(byte[]) throws ArgumentNullException on unknown bytes: ask for a codec first.
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        using var decoded = (codec is null ? null : SKBitmap.Decode(codec))
            ?? throw new LcmLoraInputException($"{source}: not an image that can be decoded (PNG, JPEG, WebP...).");
        return FromBitmap(decoded);
    }

    /// <summary>Resizes with cubic (Mitchell) sampling, e.g. for an init image whose size differs from the requested one.</summary>
    public static RgbImage Resize(RgbImage image, int width, int height)
    {
        if (image.Width == width && image.Height == height) return image;
        using var src = ToBitmap(image);
        using var dst = src.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKCubicResampler.Mitchell));
        return FromBitmap(dst);
    }

    private static SKBitmap ToBitmap(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; i < image.Pixels.Length; i += 3, j += 4)
        {
            rgba[j] = image.Pixels[i];
            rgba[j + 1] = image.Pixels[i + 1];
            rgba[j + 2] = image.Pixels[i + 2];
            rgba[j + 3] = 255;
        }
        Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }

    private static RgbImage FromBitmap(SKBitmap bitmap)
    {
        using var rgba = bitmap.ColorType == SKColorType.Rgba8888 ? null : bitmap.Copy(SKColorType.Rgba8888);
        var source = rgba ?? bitmap;
        var src = new byte[source.Width * source.Height * 4];
        Marshal.Copy(source.GetPixels(), src, 0, src.Length);
        var rgb = new byte[source.Width * source.Height * 3];
        for (int i = 0, j = 0; j < src.Length; i += 3, j += 4)
        {
            rgb[i] = src[j];
            rgb[i + 1] = src[j + 1];
            rgb[i + 2] = src[j + 2];
        }
        return new RgbImage(source.Width, source.Height, rgb);
    }
}
