namespace LcmLora.Imaging;

/// <summary>
/// Control-image preprocessors that need no model: Canny edges and a grey-scale (lineart / scribble) pass-through.
/// Both return white-on-black RGB images, the convention of the ControlNets trained on them.
/// <para>
/// Canny is hand-written: SkiaSharp (the imaging library used here) has convolution filters but no non-maximum
/// suppression or hysteresis, and no served .NET package offers Canny without native OpenCV binaries. The steps follow
/// OpenCV's <c>cv2.Canny</c> (which the ControlNet annotators call): 5x5 Gaussian smoothing (sigma 1.4), 3x3 Sobel
/// gradients, L1 magnitude, non-maximum suppression along the quantized gradient direction, and hysteresis between
/// the low and high thresholds (gradient units of 8-bit grey levels, default 100 and 200 as the annotators use).
/// </para>
/// </summary>
public static class ControlImages
{
    /// <summary>Canny edges of <paramref name="image"/>: 255 on edges, 0 elsewhere, in all three channels.</summary>
    /// <param name="image">Any RGB image.</param>
    /// <param name="lowThreshold">Weak-edge threshold on the L1 gradient magnitude.</param>
    /// <param name="highThreshold">Strong-edge threshold; weak edges survive only when connected to a strong one.</param>
    /// <exception cref="ArgumentOutOfRangeException">Thresholds negative or low &gt; high.</exception>
    public static RgbImage Canny(RgbImage image, double lowThreshold = 100, double highThreshold = 200)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (lowThreshold < 0 || highThreshold < lowThreshold)
            throw new ArgumentOutOfRangeException(nameof(lowThreshold), $"Canny thresholds must satisfy 0 <= low <= high; got {lowThreshold} and {highThreshold}.");
        int w = image.Width, h = image.Height;
        var grey = Smooth(Luma(image), w, h);
        var magnitude = new float[w * h];
        var direction = new byte[w * h]; // 0: horizontal gradient (vertical edge), 1: 45°, 2: vertical, 3: 135°
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                float P(int dx, int dy) => grey[Math.Clamp(y + dy, 0, h - 1) * w + Math.Clamp(x + dx, 0, w - 1)];
                var gx = P(1, -1) + 2 * P(1, 0) + P(1, 1) - P(-1, -1) - 2 * P(-1, 0) - P(-1, 1);
                var gy = P(-1, 1) + 2 * P(0, 1) + P(1, 1) - P(-1, -1) - 2 * P(0, -1) - P(1, -1);
                magnitude[y * w + x] = MathF.Abs(gx) + MathF.Abs(gy);
                var angle = MathF.Atan2(gy, gx) * 180f / MathF.PI;
                if (angle < 0) angle += 180;
                direction[y * w + x] = angle < 22.5f || angle >= 157.5f ? (byte)0 : angle < 67.5f ? (byte)1 : angle < 112.5f ? (byte)2 : (byte)3;
            }

        // Non-maximum suppression, then classify: 2 strong, 1 weak, 0 none.
        var klass = new byte[w * h];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var m = magnitude[y * w + x];
                if (m <= lowThreshold) continue;
                var (dx, dy) = direction[y * w + x] switch { 0 => (1, 0), 1 => (1, 1), 2 => (0, 1), _ => (-1, 1) };
                float At(int xx, int yy) => xx < 0 || yy < 0 || xx >= w || yy >= h ? 0 : magnitude[yy * w + xx];
                if (m < At(x + dx, y + dy) || m < At(x - dx, y - dy)) continue;
                klass[y * w + x] = m > highThreshold ? (byte)2 : (byte)1;
            }

        // Hysteresis: grow from strong pixels through 8-connected weak ones.
        var stack = new Stack<int>();
        for (var i = 0; i < klass.Length; i++) if (klass[i] == 2) stack.Push(i);
        while (stack.Count > 0)
        {
            var i = stack.Pop();
            int x = i % w, y = i / w;
            for (var dy = -1; dy <= 1; dy++)
                for (var dx = -1; dx <= 1; dx++)
                {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    var j = yy * w + xx;
                    if (klass[j] != 1) continue;
                    klass[j] = 2;
                    stack.Push(j);
                }
        }
        var pixels = new byte[w * h * 3];
        for (var i = 0; i < klass.Length; i++)
            if (klass[i] == 2) pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = 255;
        return new RgbImage(w, h, pixels);
    }

    /// <summary>
    /// Grey-scale pass-through for lineart, scribble or depth images the user made: luma in all three channels,
    /// inverted when <paramref name="invert"/> (black lines on white paper become the white-on-black lines ControlNets expect).
    /// </summary>
    public static RgbImage Grey(RgbImage image, bool invert = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        var luma = Luma(image);
        var pixels = new byte[luma.Length * 3];
        for (var i = 0; i < luma.Length; i++)
        {
            var v = (byte)Math.Clamp(MathF.Round(luma[i]), 0, 255);
            if (invert) v = (byte)(255 - v);
            pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = v;
        }
        return new RgbImage(image.Width, image.Height, pixels);
    }

    /// <summary>ITU-R 601 luma (PIL's "L" conversion), 0..255.</summary>
    private static float[] Luma(RgbImage image)
    {
        var p = image.Pixels;
        var luma = new float[image.Width * image.Height];
        for (var i = 0; i < luma.Length; i++) luma[i] = (p[3 * i] * 299 + p[3 * i + 1] * 587 + p[3 * i + 2] * 114) / 1000f;
        return luma;
    }

    /// <summary>5x5 Gaussian (sigma 1.4), separable, edges replicated.</summary>
    private static float[] Smooth(float[] src, int w, int h)
    {
        var k = Enumerable.Range(-2, 5).Select(x => MathF.Exp(-x * x / (2 * 1.4f * 1.4f))).ToArray();
        var sum = k.Sum();
        for (var i = 0; i < k.Length; i++) k[i] /= sum;
        var tmp = new float[src.Length];
        var dst = new float[src.Length];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                float acc = 0;
                for (var d = -2; d <= 2; d++) acc += k[d + 2] * src[y * w + Math.Clamp(x + d, 0, w - 1)];
                tmp[y * w + x] = acc;
            }
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                float acc = 0;
                for (var d = -2; d <= 2; d++) acc += k[d + 2] * tmp[Math.Clamp(y + d, 0, h - 1) * w + x];
                dst[y * w + x] = acc;
            }
        return dst;
    }
}
