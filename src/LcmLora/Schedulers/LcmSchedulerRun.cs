using System.Collections.ObjectModel;
using TorchSharp;

namespace LcmLora.Schedulers;

/// <summary>
/// One LCM generation (diffusers <c>LCMScheduler</c> after <c>set_timesteps</c>). Each step computes the x0 estimate
/// for the prediction type, applies the boundary condition (denoised = c_out·x0 + c_skip·x_t) and, except on the last
/// step, re-noises it to the next timestep: prev = sqrt(ᾱ_prev)·denoised + sqrt(1−ᾱ_prev)·z, with z drawn from the
/// caller's generator (so the random stream is: initial latents, then one draw per step but the last).
/// Scalars are float32, as diffusers computes them from its float32 tables.
/// </summary>
public sealed class LcmSchedulerRun : SchedulerRun
{
    private readonly LcmScheduler _scheduler;
    private readonly int[] _timesteps;

    internal LcmSchedulerRun(LcmScheduler scheduler, int[] timesteps) : base(timesteps.Select(t => (float)t))
    {
        _scheduler = scheduler;
        _timesteps = timesteps;
        IntegerTimesteps = new ReadOnlyCollection<int>(timesteps);
    }

    /// <summary>The plan as integers (the values of <see cref="SchedulerRun.Timesteps"/>; diffusers keeps them as int64).</summary>
    public IReadOnlyList<int> IntegerTimesteps { get; }

    /// <summary>Always 1: LCM starts from plain N(0, 1) latents.</summary>
    public override float InitNoiseSigma => 1f;

    /// <summary>
    /// Noises <paramref name="originalSamples"/> to a whole-number <paramref name="timestep"/> in 0..N−1 (need not be
    /// in the plan): sqrt(ᾱ_t)·x0 + sqrt(1−ᾱ_t)·noise.
    /// </summary>
    /// <exception cref="ArgumentException">The timestep is not a whole number in range.</exception>
    public override torch.Tensor AddNoise(torch.Tensor originalSamples, torch.Tensor noise, float timestep)
    {
        ArgumentNullException.ThrowIfNull(originalSamples);
        ArgumentNullException.ThrowIfNull(noise);
        var t = (int)timestep;
        if (t != timestep || t < 0 || t >= _scheduler.NoiseSchedule.NumTrainTimesteps)
            throw new ArgumentException($"LCM AddNoise needs a whole timestep in 0..{_scheduler.NoiseSchedule.NumTrainTimesteps - 1}, got {timestep}.", nameof(timestep));
        var alpha = _scheduler.NoiseSchedule.AlphaCumprod(t);
        using var scope = torch.NewDisposeScope();
        var noisy = MathF.Sqrt(alpha) * originalSamples + MathF.Sqrt(1f - alpha) * noise;
        return noisy.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override torch.Tensor ScaleModelInputAt(int index, torch.Tensor sample) => sample.alias();

    /// <inheritdoc />
    protected override SchedulerStepResult StepAt(int index, torch.Tensor modelOutput, torch.Tensor sample, torch.Generator? generator)
    {
        var config = _scheduler.Config;
        var schedule = _scheduler.NoiseSchedule;
        var t = _timesteps[index];
        var last = IsLastIndex(index);
        var alpha = schedule.AlphaCumprod(t);
        var beta = 1f - alpha;
        var (cSkip, cOut) = _scheduler.BoundaryScalings(t);

        using var scope = torch.NewDisposeScope();
        var x0 = config.PredictionType switch
        {
            PredictionType.Epsilon => (sample - MathF.Sqrt(beta) * modelOutput) / MathF.Sqrt(alpha),
            PredictionType.Sample => modelOutput.alias(),
            PredictionType.VPrediction => MathF.Sqrt(alpha) * sample - MathF.Sqrt(beta) * modelOutput,
            _ => throw new InvalidOperationException($"Unknown prediction type {config.PredictionType}."),
        };
        if (config.ClipSample)
            x0 = x0.clamp(-config.ClipSampleRange, config.ClipSampleRange);

        var denoised = cOut * x0 + cSkip * sample;
        torch.Tensor prev;
        if (last)
        {
            prev = denoised.alias();
        }
        else
        {
            var alphaPrev = schedule.AlphaCumprod(_timesteps[index + 1]);
            var noise = DrawNoise(modelOutput.shape, generator, modelOutput.device, denoised.dtype);
            prev = MathF.Sqrt(alphaPrev) * denoised + MathF.Sqrt(1f - alphaPrev) * noise;
        }
        return new SchedulerStepResult(prev.MoveToOuterDisposeScope(), denoised.MoveToOuterDisposeScope());
    }
}
