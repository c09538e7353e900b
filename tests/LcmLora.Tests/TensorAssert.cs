using TorchSharp;
using Xunit;

namespace LcmLora.Tests;

/// <summary>Tensor comparisons with the fixture tolerances.</summary>
public static class TensorAssert
{
    /// <summary>Same shape, dtype and every element equal.</summary>
    public static void Identical(torch.Tensor expected, torch.Tensor actual, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        using var eq = expected.eq(actual).all();
        Assert.True(eq.item<bool>(), $"{what}: tensors differ");
    }

    /// <summary>True when every element is equal (same shape).</summary>
    public static bool AreIdentical(torch.Tensor a, torch.Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape) || a.dtype != b.dtype) return false;
        using var eq = a.eq(b).all();
        return eq.item<bool>();
    }

    /// <summary>The component tolerance of the fixtures: max |actual - expected| &lt;= rel * max(1, max |expected|).</summary>
    public static void Close(torch.Tensor expected, torch.Tensor actual, double rel = 1e-4, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = torch.NewDisposeScope();
        var e = expected.to(torch.ScalarType.Float64);
        var a = actual.to(torch.ScalarType.Float64);
        var maxRef = e.abs().max().item<double>();
        var diff = (a - e).abs().max().item<double>();
        var bound = rel * Math.Max(1.0, maxRef);
        Assert.True(diff <= bound, $"{what}: max |diff| = {diff:E3} > {bound:E3} (max |ref| = {maxRef:E3})");
    }

    /// <summary>Absolute tolerance: max |actual - expected| &lt;= tol.</summary>
    public static void CloseAbs(torch.Tensor expected, torch.Tensor actual, double tol, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = torch.NewDisposeScope();
        var diff = (actual.to(torch.ScalarType.Float64) - expected.to(torch.ScalarType.Float64)).abs().max().item<double>();
        Assert.True(diff <= tol, $"{what}: max |diff| = {diff:E3} > {tol:E3}");
    }

    /// <summary>
    /// A whole generation against a diffusers pipeline fixture: the final latents against its <c>vae_decode_input</c>
    /// (latents / the tiny SDXL VAE's scaling factor 0.13025; components tolerance 1e-4) and the image against its
    /// <c>image</c> (1e-3 absolute on 0..1).
    /// </summary>
    public static void MatchesPipelineFixture(LcmLora.IO.SafeTensorsFile data, LcmLora.Pipelines.GenerationResult result)
    {
        using var vaeInput = data.Read("vae_decode_input");
        using var ours = result.Latents! / 0.13025;
        Close(vaeInput, ours, 1e-4, "vae_decode_input");
        using var image = data.Read("image");
        CloseAbs(image, result.ImageTensor!, 1e-3, "image");
    }
}
