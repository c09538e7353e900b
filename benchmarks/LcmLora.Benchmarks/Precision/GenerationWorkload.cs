using LcmLora.Imaging;
using LcmLora.Models.ControlNet;
using LcmLora.Pipelines;
using TorchSharp;

namespace LcmLora.Benchmarks.Precision;

/// <summary>
/// What one <c>generate-once</c> run asks the pipeline for, so plain generation, inpainting and ControlNet are timed
/// by the same code: <c>plain</c> (text-to-image), <c>inpaint</c> (4-channel UNet, a grey init image, the right half
/// masked, strength 1.0: the extra work is the VAE encode of the init image and one latent blend per step) and
/// <c>controlnet</c> (one ControlNet with SDXL base's encoder half, scale 1.0, on every step; random weights drawn as
/// the random checkpoint's, N(0, 1/fan_in) with norms at 1 and biases 0, and zero convolutions at zero as when ControlNet
/// training starts, so the random UNet is not pushed into overflow: the work per step is that of any ControlNet).
/// </summary>
public sealed class GenerationWorkload : IDisposable
{
    /// <summary>The workloads <c>generate-once</c> accepts.</summary>
    public static readonly string[] Modes = ["plain", "inpaint", "controlnet"];

    private readonly SdxlControlNet? _controlnet;

    private GenerationWorkload(GenerationRequest request, SdxlControlNet? controlnet)
    {
        Request = request;
        _controlnet = controlnet;
    }

    /// <summary>The request to time.</summary>
    public GenerationRequest Request { get; }

    /// <summary>Builds the request for <paramref name="mode"/> at <paramref name="size"/> x <paramref name="size"/>.</summary>
    public static GenerationWorkload Create(string mode, SdxlPipeline pipeline, int size, string prompt)
    {
        var plain = new GenerationRequest { Prompt = prompt, Seed = 42, Width = size, Height = size };
        switch (mode)
        {
            case "plain":
                return new(plain, null);
            case "inpaint":
                return new(plain with { InitImage = Filled(size, (_, _) => 128), MaskImage = Filled(size, (x, _) => x >= size / 2 ? (byte)255 : (byte)0), Strength = 1.0 }, null);
            case "controlnet":
                var controlnet = new SdxlControlNet(new ControlNetConfig { Unet = pipeline.Models.Configs.Unet }, dtype: pipeline.Precision.DType);
                controlnet.eval();
                Randomize(controlnet);
                var edges = Filled(size, (x, y) => (x / 32 + y / 32) % 2 == 0 ? (byte)255 : (byte)0);
                return new(plain with { ControlNets = [new ControlNetGuidance(controlnet, edges)] }, controlnet);
            default:
                throw new ArgumentException($"unknown workload '{mode}': expected one of {string.Join(", ", Modes)}");
        }
    }

    private static void Randomize(SdxlControlNet controlnet)
    {
        using var _ = torch.no_grad();
        using var g = new torch.Generator(42);
        foreach (var (name, p) in controlnet.named_parameters())
        {
            if (name.StartsWith("controlnet_down_blocks", StringComparison.Ordinal) || name.StartsWith("controlnet_mid_block", StringComparison.Ordinal) || name.EndsWith("bias", StringComparison.Ordinal))
                p.zero_();
            else if (p.dim() == 1)
                p.fill_(1.0);
            else
            {
                var fanIn = p.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
                using var w = torch.randn(p.shape, generator: g).mul_(1.0 / Math.Sqrt(fanIn));
                p.copy_(w);
            }
        }
    }

    private static RgbImage Filled(int size, Func<int, int, byte> value)
    {
        var pixels = new byte[size * size * 3];
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
                pixels.AsSpan((y * size + x) * 3, 3).Fill(value(x, y));
        return new RgbImage(size, size, pixels);
    }

    /// <summary>Frees the ControlNet, if any.</summary>
    public void Dispose() => _controlnet?.Dispose();
}
