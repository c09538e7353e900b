using TorchSharp;

namespace LcmLora.Imaging;

/// <summary>
/// Conversions between image tensors and 8-bit RGB, following diffusers' <c>VaeImageProcessor</c>: decoder output in
/// [-1, 1] becomes <c>(x / 2 + 0.5).clamp(0, 1)</c>, then <c>round(x * 255)</c>; an 8-bit image becomes
/// <c>x / 255 * 2 - 1</c> for the encoder.
/// </summary>
internal static class ImageTensors
{
    /// <summary>Maps a VAE decoder output [B, 3, H, W] in [-1, 1] to [0, 1] (float32, same device).</summary>
    public static torch.Tensor ToUnitRange(torch.Tensor decoded)
    {
        using var scope = torch.NewDisposeScope();
        return (decoded.to(torch.ScalarType.Float32) / 2 + 0.5).clamp(0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Converts a [B, 3, H, W] tensor in [0, 1] to one 8-bit image per batch item.</summary>
    public static IReadOnlyList<RgbImage> ToImages(torch.Tensor unitRange)
    {
        if (unitRange.dim() != 4 || unitRange.shape[1] != 3)
            throw new ArgumentException($"Expected [B, 3, H, W], got [{string.Join(", ", unitRange.shape)}].", nameof(unitRange));
        using var scope = torch.NewDisposeScope();
        var bytes = (unitRange.to(torch.ScalarType.Float32).cpu() * 255).round().clamp(0, 255)
            .to(torch.ScalarType.Byte).permute(0, 2, 3, 1).contiguous();
        int b = (int)bytes.shape[0], h = (int)bytes.shape[1], w = (int)bytes.shape[2];
        var all = bytes.bytes.ToArray();
        var per = h * w * 3;
        return Enumerable.Range(0, b).Select(i => new RgbImage(w, h, all.AsSpan(i * per, per).ToArray())).ToList();
    }

    /// <summary>Converts 8-bit images (all the same size) to a [B, 3, H, W] float32 tensor in [-1, 1].</summary>
    public static torch.Tensor FromImages(IReadOnlyList<RgbImage> images)
    {
        if (images.Count == 0) throw new ArgumentException("No images.", nameof(images));
        int w = images[0].Width, h = images[0].Height;
        if (images.Any(i => i.Width != w || i.Height != h)) throw new ArgumentException("Images differ in size.", nameof(images));
        var all = new byte[images.Count * w * h * 3];
        for (var i = 0; i < images.Count; i++) images[i].Pixels.CopyTo(all, i * w * h * 3);
        using var scope = torch.NewDisposeScope();
        var t = torch.tensor(all, torch.ScalarType.Byte).reshape(images.Count, h, w, 3).permute(0, 3, 1, 2);
        return (t.to(torch.ScalarType.Float32) / 255 * 2 - 1).contiguous().MoveToOuterDisposeScope();
    }
}
