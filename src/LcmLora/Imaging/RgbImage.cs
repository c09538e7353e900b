namespace LcmLora.Imaging;

/// <summary>An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Pixels">Width x Height x 3 bytes.</param>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    /// <summary>The R, G, B bytes of one pixel.</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            var i = (y * Width + x) * 3;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }
}
