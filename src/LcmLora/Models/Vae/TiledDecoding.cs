using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Models.Vae;

/// <summary>
/// diffusers' <c>AutoencoderKL.tiled_decode</c>: the latents are cut into square tiles of
/// <c>tileLatent</c> latents every <c>int(tileLatent * (1 - overlap))</c> latents, each tile is decoded alone, each
/// decoded tile is blended (in place, in row-major order, exactly as diffusers) linearly with the already-blended
/// tile above and to its left over <c>int(tileSample * overlap)</c> pixels, cropped to <c>tileSample - blend</c>
/// pixels and the crops are concatenated.
/// </summary>
internal static class TiledDecoding
{
    /// <summary>Decodes <paramref name="latents"/> tile by tile with <paramref name="decodeTile"/>.</summary>
    public static Tensor Decode(Tensor latents, int tileLatent, int tileSample, double overlap, Func<Tensor, Tensor> decodeTile)
    {
        var stride = (int)(tileLatent * (1 - overlap));
        var blendExtent = (int)(tileSample * overlap);
        var rowLimit = tileSample - blendExtent;
        if (stride <= 0 || rowLimit <= 0)
            throw new LcmLoraInputException($"Tile overlap {overlap} leaves no stride for {tileLatent}-latent tiles.");

        using var scope = NewDisposeScope();
        var (height, width) = (latents.shape[2], latents.shape[3]);
        var rows = new List<List<Tensor>>();
        for (long i = 0; i < height; i += stride)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < width; j += stride)
            {
                var tile = latents.narrow(2, i, Math.Min(tileLatent, height - i)).narrow(3, j, Math.Min(tileLatent, width - j));
                row.Add(decodeTile(tile));
            }
            rows.Add(row);
        }

        var resultRows = new List<Tensor>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var crops = new List<Tensor>(rows[i].Count);
            for (var j = 0; j < rows[i].Count; j++)
            {
                var tile = rows[i][j];
                if (i > 0) BlendInto(rows[i - 1][j], tile, blendExtent, dim: 2);
                if (j > 0) BlendInto(rows[i][j - 1], tile, blendExtent, dim: 3);
                crops.Add(tile.narrow(2, 0, Math.Min(rowLimit, tile.shape[2])).narrow(3, 0, Math.Min(rowLimit, tile.shape[3])));
            }
            resultRows.Add(cat(crops, 3));
        }
        return cat(resultRows, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// diffusers' blend_v (dim 2) / blend_h (dim 3): the first e rows/columns of <paramref name="b"/> become
    /// a[last e + y] * (1 - y/e) + b[y] * (y/e), e = min(extent, both sizes along the dim). Writes into b.
    /// </summary>
    private static void BlendInto(Tensor a, Tensor b, int extent, int dim)
    {
        var e = (int)Math.Min(Math.Min(a.shape[dim], b.shape[dim]), extent);
        if (e <= 0) return;
        using var scope = NewDisposeScope();
        var weights = new float[e];
        var complements = new float[e];
        for (var y = 0; y < e; y++)
        {
            weights[y] = (float)((double)y / e);
            complements[y] = (float)(1 - (double)y / e);
        }
        var shape = dim == 2 ? new long[] { 1, 1, e, 1 } : new long[] { 1, 1, 1, e };
        var w = tensor(weights, dtype: ScalarType.Float32, device: b.device).reshape(shape).to(b.dtype);
        var wc = tensor(complements, dtype: ScalarType.Float32, device: b.device).reshape(shape).to(b.dtype);
        var head = b.narrow(dim, 0, e);
        var blended = a.narrow(dim, a.shape[dim] - e, e) * wc + head * w;
        head.copy_(blended);
    }
}
