using LcmLora.Benchmarks.Setup;
using LcmLora.Models.Unet;
using LcmLora.Schedulers;
using TorchSharp;

namespace LcmLora.Benchmarks.Loops;

/// <summary>
/// The denoising loop of a text-to-image generation, without text encoding and VAE: the conditioning embedding once,
/// then per step ScaleModelInput, the UNet (batch 2 under classifier-free guidance, as diffusers does), guidance and
/// the scheduler step. Native memory is released step by step.
/// </summary>
internal static class DenoisingLoop
{
    /// <summary>Runs <paramref name="steps"/> steps of <paramref name="scheduler"/>; returns the final latents.</summary>
    /// <param name="unet">The UNet.</param>
    /// <param name="scheduler">LCM or Euler.</param>
    /// <param name="steps">Inference steps.</param>
    /// <param name="guidance">Guidance scale; above 1 runs CFG with <paramref name="negative"/>.</param>
    /// <param name="positive">Positive prompt conditioning (batch 1).</param>
    /// <param name="negative">Negative prompt conditioning (batch 1), used when guidance is above 1.</param>
    /// <param name="noise">Initial noise <c>[1, C, h, w]</c>.</param>
    public static torch.Tensor Run(SdxlUNet unet, IScheduler scheduler, int steps, double guidance, BenchInputs positive, BenchInputs negative, torch.Tensor noise)
    {
        using var scope = torch.NewDisposeScope();
        var cfg = guidance > 1;
        var run = scheduler.SetTimesteps(steps);
        var text = cfg ? torch.cat([negative.TextStates, positive.TextStates], 0) : positive.TextStates;
        var conditioning = cfg
            ? unet.ConditioningEmbedding(torch.cat([negative.Pooled, positive.Pooled], 0), torch.cat([negative.TimeIds, positive.TimeIds], 0))
            : unet.ConditioningEmbedding(positive.Pooled, positive.TimeIds);
        using var generator = new torch.Generator(7);
        var latents = noise * run.InitNoiseSigma;
        foreach (var t in run.Timesteps)
        {
            using var stepScope = torch.NewDisposeScope();
            var input = run.ScaleModelInput(latents, t);
            if (cfg) input = torch.cat([input, input], 0);
            using var timestep = torch.tensor(new[] { t });
            var eps = unet.Denoise(input, timestep, text, conditioning);
            if (cfg)
            {
                var halves = eps.chunk(2, 0);
                eps = halves[0] + guidance * (halves[1] - halves[0]);
            }
            var next = run.Step(eps, t, latents, generator).PrevSample.MoveToOuterDisposeScope();
            latents.Dispose();
            latents = next;
        }
        return latents.MoveToOuterDisposeScope();
    }
}
