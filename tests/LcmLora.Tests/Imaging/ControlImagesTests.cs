using LcmLora.Imaging;
using Xunit;

namespace LcmLora.Tests.Imaging;

/// <summary>The model-free control-image preprocessors on synthetic images.</summary>
[Trait("Category", "unit")]
public class ControlImagesTests
{
    private static RgbImage Synthetic(int w, int h, Func<int, int, byte> value)
    {
        var pixels = new byte[w * h * 3];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                pixels[(y * w + x) * 3] = pixels[(y * w + x) * 3 + 1] = pixels[(y * w + x) * 3 + 2] = value(x, y);
        return new RgbImage(w, h, pixels);
    }

    private static bool On(RgbImage edges, int x, int y) => edges[x, y].R == 255;

    [Fact]
    public void CannyFindsAVerticalStepWhereItIs()
    {
        // Black left half, white right half: one thin edge line at the step (x = 15 or 16), nothing elsewhere.
        var edges = ControlImages.Canny(Synthetic(32, 24, (x, _) => x < 16 ? (byte)0 : (byte)255));
        for (var y = 3; y < 21; y++)
        {
            var row = Enumerable.Range(0, 32).Where(x => On(edges, x, y)).ToArray();
            Assert.NotEmpty(row);
            Assert.All(row, x => Assert.InRange(x, 14, 17));
            Assert.True(row.Length <= 2, $"row {y}: edge {row.Length} px wide (non-maximum suppression thins it)");
        }
        Assert.All(Enumerable.Range(0, 32).Where(x => x < 13 || x > 18), x => Assert.False(On(edges, x, 10)));
    }

    [Fact]
    public void CannyOutlinesASquareAndIgnoresFlatAreas()
    {
        var edges = ControlImages.Canny(Synthetic(40, 40, (x, y) => x is >= 10 and < 30 && y is >= 10 and < 30 ? (byte)200 : (byte)20));
        Assert.True(Enumerable.Range(12, 16).All(y => On(edges, 9, y) || On(edges, 10, y)), "left side");
        Assert.True(Enumerable.Range(12, 16).All(x => On(edges, x, 29) || On(edges, x, 30)), "bottom side");
        Assert.False(On(edges, 20, 20), "flat inside");
        Assert.False(On(edges, 2, 2), "flat outside");
        Assert.Equal((byte)0, edges[20, 20].G);
    }

    [Fact]
    public void CannyHysteresisKeepsOnlyWeakEdgesConnectedToStrongOnes()
    {
        // A faint step (gradient between the thresholds) alone: no edge; with a high threshold below its gradient: an edge.
        var faintStep = Synthetic(32, 32, (x, _) => x < 16 ? (byte)100 : (byte)130);
        Assert.DoesNotContain(Enumerable.Range(0, 32 * 32), i => On(ControlImages.Canny(faintStep, 50, 200), i % 32, i / 32));
        Assert.Contains(Enumerable.Range(0, 32), x => On(ControlImages.Canny(faintStep, 50, 60), x, 20));
        // The same faint step continuing a strong one (the contrast fades along the rows): the faint part is kept.
        var fading = ControlImages.Canny(Synthetic(32, 32, (x, y) => x < 16 ? (byte)100 : (byte)(130 + Math.Max(0, 16 - y) * 6)), 50, 200);
        Assert.All(Enumerable.Range(20, 10), y => Assert.True(On(fading, 15, y) || On(fading, 16, y), $"row {y}"));
    }

    [Fact]
    public void GreyPassThroughAndInversion()
    {
        var image = new RgbImage(2, 1, [255, 0, 0, 10, 20, 30]);
        var grey = ControlImages.Grey(image);
        Assert.Equal((byte)76, grey[0, 0].R);
        Assert.Equal(grey[0, 0].R, grey[0, 0].B);
        Assert.Equal((byte)(255 - 76), ControlImages.Grey(image, invert: true)[0, 0].G);
    }

    [Fact]
    public void BadThresholdsAreRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ControlImages.Canny(Synthetic(4, 4, (_, _) => 0), 200, 100));
}
