using System.Reflection;
using BenchmarkDotNet.Running;
using LcmLora.Benchmarks.Setup;
using LcmLora.Models;

namespace LcmLora.Benchmarks.Flops;

/// <summary>What a benchmark computes, for the FLOP columns and the floor report.</summary>
public enum Work
{
    /// <summary>One UNet step at the benchmark's Model and Batch (64x64 latents).</summary>
    UNetStep,

    /// <summary>The 4-step LCM loop, guidance 1 (batch 1).</summary>
    LcmLoop4,

    /// <summary>The 25-step Euler loop, guidance 5 (CFG, batch 2).</summary>
    EulerLoop25Cfg,

    /// <summary>VAE decode of 64x64 latents (512x512 image).</summary>
    VaeDecode,

    /// <summary>Both text encoders on one prompt.</summary>
    TextEncoders,

    /// <summary>A whole 512x512 LCM image: both text encoders, 4 UNet steps (batch 1), VAE decode.</summary>
    Image512Lcm4,

    /// <summary>torch.mm of two 4096x4096 fp32 matrices.</summary>
    Sgemm4096,

    /// <summary>One 3x3 convolution, shape from the Shape parameter ("C@HxW", C in and out, batch 1).</summary>
    Conv3x3,
}

/// <summary>Marks a benchmark method with the <see cref="Work"/> it does, so its FLOPs can be counted.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FlopsAttribute(Work work) : Attribute
{
    /// <summary>The work.</summary>
    public Work Work { get; } = work;

    /// <summary>The work of a benchmark case, or null when its method has no attribute.</summary>
    public static Work? Of(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<FlopsAttribute>()?.Work;
}

/// <summary>The operations of each <see cref="Work"/>, from the configs.</summary>
public static class WorkOps
{
    /// <summary>The ops of a benchmark case (null when it is not FLOP-counted).</summary>
    public static IReadOnlyList<FlopOp>? Of(BenchmarkCase benchmarkCase)
    {
        if (FlopsAttribute.Of(benchmarkCase) is not Work work) return null;
        string? Param(string name) => benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == name)?.Value?.ToString();
        var model = Param("Model") ?? BenchModelAttribute.Of(benchmarkCase.Descriptor.Type);
        var batch = int.TryParse(Param("Batch"), out var b) ? b : 1;
        return Of(work, model, batch, Param("Shape"));
    }

    /// <summary>The ops of <paramref name="work"/> for a model ("tiny" or "sdxl-base"), batch, conv shape and latent side
    /// (default <see cref="BenchSizes.Latent"/>, a 512x512 image).</summary>
    public static IReadOnlyList<FlopOp> Of(Work work, string model, int batch = 1, string? shape = null, int latent = BenchSizes.Latent)
    {
        var configs = model == BenchModels.Tiny ? BuiltInModels.TinyConfigs() : SdxlConfigs.SdxlBase;
        return work switch
        {
            Work.UNetStep => FlopCounter.UNetStep(configs.Unet, batch, latent, latent),
            Work.LcmLoop4 => Repeat(FlopCounter.UNetStep(configs.Unet, 1, latent, latent), 4),
            Work.EulerLoop25Cfg => Repeat(FlopCounter.UNetStep(configs.Unet, 2, latent, latent), 25),
            Work.VaeDecode => FlopCounter.VaeDecode(configs.Vae, 1, latent, latent),
            Work.Image512Lcm4 =>
            [
                .. FlopCounter.SdxlTextEncoders(configs.TextEncoder!, configs.TextEncoder2!),
                .. FlopCounter.UNetConditioning(configs.Unet, 1),
                .. Repeat(FlopCounter.UNetStep(configs.Unet, 1, latent, latent), 4),
                .. FlopCounter.VaeDecode(configs.Vae, 1, latent, latent),
            ],
            Work.TextEncoders => FlopCounter.SdxlTextEncoders(configs.TextEncoder!, configs.TextEncoder2!),
            Work.Sgemm4096 => [new LinearOp("mm", 4096, 4096, 4096)],
            Work.Conv3x3 => [ConvShape.Parse(shape ?? throw new ArgumentException("Conv3x3 needs a Shape parameter."))],
            _ => throw new ArgumentOutOfRangeException(nameof(work), work, null),
        };
    }

    private static List<FlopOp> Repeat(List<FlopOp> ops, int times) => [.. Enumerable.Range(0, times).SelectMany(_ => ops)];
}

/// <summary>Conv benchmark shapes written "C@HxW" (C channels in and out, batch 1, 3x3, stride 1).</summary>
public static class ConvShape
{
    /// <summary>Parses "C@HxW".</summary>
    public static ConvOp Parse(string shape)
    {
        var at = shape.Split('@');
        var hw = at[1].Split('x');
        var c = long.Parse(at[0], System.Globalization.CultureInfo.InvariantCulture);
        return new ConvOp(shape, 1, c, c, 3, 1, long.Parse(hw[0], System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(hw[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}
