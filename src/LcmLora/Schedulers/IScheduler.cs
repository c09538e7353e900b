namespace LcmLora.Schedulers;

/// <summary>
/// A diffusion scheduler: the immutable, configured half. It holds only the config and the training noise table,
/// no per-generation state, so one instance can serve any number of generations (and threads).
/// <see cref="SetTimesteps"/> starts a generation and returns a fresh <see cref="ISchedulerRun"/> that owns the step
/// state (the diffusers equivalent is <c>set_timesteps</c> followed by <c>set_begin_index(0)</c>).
/// </summary>
/// <remarks>
/// Typical loop:
/// <code>
/// var run = scheduler.SetTimesteps(4);
/// var latents = torch.randn(shape, generator: g) * run.InitNoiseSigma;
/// foreach (var t in run.Timesteps)
/// {
///     var eps = unet(run.ScaleModelInput(latents, t), t, ...);
///     latents = run.Step(eps, t, latents, g).PrevSample;
/// }
/// </code>
/// </remarks>
public interface IScheduler
{
    /// <summary>A short name for messages and reports ("lcm", "euler", or your own).</summary>
    string Name { get; }

    /// <summary>The configuration it was built from.</summary>
    SchedulerConfig Config { get; }

    /// <summary>The training noise schedule (betas, ᾱ).</summary>
    NoiseSchedule NoiseSchedule { get; }

    /// <summary>
    /// Plans one generation of <paramref name="numInferenceSteps"/> steps. <paramref name="strength"/> in (0, 1] is
    /// the img2img strength (1 = text-to-image); each scheduler documents how it shortens the schedule.
    /// </summary>
    /// <exception cref="InvalidTimestepsException">The step count or strength cannot be honoured.</exception>
    ISchedulerRun SetTimesteps(int numInferenceSteps, double strength = 1.0);
}
