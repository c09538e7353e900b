using System.Globalization;

namespace LcmLora.Schedulers;

/// <summary>
/// diffusers' <c>LCMScheduler</c> (current algorithm, PR #5836): the default scheduler for LCM-LoRA. Inference
/// timesteps are chosen evenly by index from the distillation grid [k−1, 2k−1, …] with k = N / original_steps, so
/// 4 steps give 999, 759, 499, 259. Immutable; each <see cref="SetTimesteps(int, double, int?)"/> returns a fresh
/// <see cref="LcmSchedulerRun"/>.
/// </summary>
/// <remarks>
/// img2img strength is LCM-native (diffusers' LCM img2img pipeline): the grid is cut to its first
/// int(original_steps·strength) entries before the steps are selected, so the whole step budget is spent on the
/// shortened range (strength 0.5, 4 steps: 499, 379, 259, 139). <c>set_alpha_to_one</c> has no effect: the last
/// step never looks at a previous ᾱ, and custom timesteps must lie in 0..N−1.
/// </remarks>
public sealed class LcmScheduler : IScheduler
{
    /// <summary>Creates the scheduler; null means <see cref="SchedulerConfig.SdxlBase"/>.</summary>
    /// <exception cref="SchedulerConfigException">The config asks for an option this port does not implement.</exception>
    public LcmScheduler(SchedulerConfig? config = null)
    {
        Config = config ?? SchedulerConfig.SdxlBase;
        if (Config.Thresholding)
            throw new SchedulerConfigException("thresholding = true (dynamic thresholding) is not supported by this port's LCM scheduler.");
        if (!(Config.TimestepScaling > 0) || double.IsInfinity(Config.TimestepScaling))
            throw new SchedulerConfigException($"timestep_scaling must be a positive number, got {Config.TimestepScaling}.");
        if (Config.ClipSample && !(Config.ClipSampleRange > 0))
            throw new SchedulerConfigException($"clip_sample_range must be positive, got {Config.ClipSampleRange}.");
        NoiseSchedule = NoiseSchedule.FromConfig(Config);
    }

    /// <summary>σ_data of the consistency boundary condition (0.5, fixed in diffusers).</summary>
    public const float SigmaData = 0.5f;

    /// <inheritdoc />
    public string Name => "lcm";

    /// <inheritdoc />
    public SchedulerConfig Config { get; }

    /// <inheritdoc />
    public NoiseSchedule NoiseSchedule { get; }

    /// <inheritdoc />
    ISchedulerRun IScheduler.SetTimesteps(int numInferenceSteps, double strength) => SetTimesteps(numInferenceSteps, strength);

    /// <summary>
    /// Plans <paramref name="numInferenceSteps"/> steps (diffusers <c>set_timesteps(n, original_inference_steps=…,
    /// strength=…)</c>). <paramref name="originalInferenceSteps"/> overrides <c>original_inference_steps</c> of the config.
    /// </summary>
    /// <exception cref="InvalidTimestepsException">Any of diffusers' checks fails, or strength is not in (0, 1].</exception>
    public LcmSchedulerRun SetTimesteps(int numInferenceSteps, double strength = 1.0, int? originalInferenceSteps = null)
    {
        var timesteps = ComputeTimesteps(NoiseSchedule.NumTrainTimesteps, numInferenceSteps,
            originalInferenceSteps ?? Config.OriginalInferenceSteps, strength);
        return new LcmSchedulerRun(this, timesteps);
    }

    /// <summary>
    /// Plans a custom, strictly descending list of integer timesteps in 0..N−1 (diffusers <c>timesteps=[…]</c>).
    /// Strength then keeps the last min(int(n·strength), n) entries, the generic img2img way.
    /// </summary>
    /// <exception cref="InvalidTimestepsException">Empty, not descending, out of range, or strength not in (0, 1].</exception>
    public LcmSchedulerRun SetCustomTimesteps(IReadOnlyList<int> timesteps, double strength = 1.0)
    {
        ArgumentNullException.ThrowIfNull(timesteps);
        CheckStrength(strength);
        var n = NoiseSchedule.NumTrainTimesteps;
        if (timesteps.Count == 0) throw new InvalidTimestepsException("Custom timesteps must not be empty.");
        for (var i = 1; i < timesteps.Count; i++)
            if (timesteps[i] >= timesteps[i - 1])
                throw new InvalidTimestepsException($"Custom timesteps must be in strictly descending order; {timesteps[i]} follows {timesteps[i - 1]}.");
        if (timesteps[0] >= n)
            throw new InvalidTimestepsException($"Custom timesteps must start below num_train_timesteps ({n}); the first is {timesteps[0]}.");
        if (timesteps[^1] < 0)
            throw new InvalidTimestepsException($"Custom timesteps must not be negative; the last is {timesteps[^1]}.");
        var count = timesteps.Count;
        var init = Math.Min((int)(count * strength), count);
        var start = Math.Max(count - init, 0);
        if (start >= count)
            throw new InvalidTimestepsException($"Strength {Fmt(strength)} keeps none of the {count} custom timesteps; increase strength.");
        return new LcmSchedulerRun(this, timesteps.Skip(start).ToArray());
    }

    /// <summary>
    /// The LCM inference timesteps (pure function of the arguments): the grid [1..int(originalSteps·strength)]·k − 1
    /// with k = N / originalSteps, reversed, sampled at floor(linspace(0, len, n, endpoint=false)).
    /// </summary>
    /// <exception cref="InvalidTimestepsException">Any of diffusers' checks fails, or strength is not in (0, 1].</exception>
    public static int[] ComputeTimesteps(int numTrainTimesteps, int numInferenceSteps, int originalInferenceSteps, double strength = 1.0)
    {
        CheckStrength(strength);
        if (numInferenceSteps < 1)
            throw new InvalidTimestepsException($"num_inference_steps must be at least 1, got {numInferenceSteps}.");
        if (originalInferenceSteps < 1)
            throw new InvalidTimestepsException($"original_inference_steps must be at least 1, got {originalInferenceSteps}.");
        if (originalInferenceSteps > numTrainTimesteps)
            throw new InvalidTimestepsException(
                $"original_inference_steps ({originalInferenceSteps}) cannot be larger than num_train_timesteps ({numTrainTimesteps}): " +
                $"the model was trained on {numTrainTimesteps} timesteps only.");
        var k = numTrainTimesteps / originalInferenceSteps;
        var gridLength = (int)(originalInferenceSteps * strength);
        if (numInferenceSteps > numTrainTimesteps)
            throw new InvalidTimestepsException(
                $"num_inference_steps ({numInferenceSteps}) cannot be larger than num_train_timesteps ({numTrainTimesteps}).");
        if (gridLength / numInferenceSteps < 1)
            throw new InvalidTimestepsException(
                $"The combination of original_inference_steps x strength ({originalInferenceSteps} x {Fmt(strength)}) is smaller than " +
                $"num_inference_steps ({numInferenceSteps}). Reduce num_inference_steps to at most {gridLength} or increase strength " +
                $"to at least {Fmt((double)numInferenceSteps / originalInferenceSteps)} (strength cannot exceed 1; raise original_inference_steps instead).");
        if (numInferenceSteps > originalInferenceSteps)
            throw new InvalidTimestepsException(
                $"num_inference_steps ({numInferenceSteps}) cannot be larger than original_inference_steps ({originalInferenceSteps}): " +
                "the schedule is a subset of the original_inference_steps-sized distillation grid.");

        // Grid descending: entry j is (gridLength - j) * k - 1; indices floor(i * len/n) as numpy's linspace computes them.
        var step = gridLength / (double)numInferenceSteps;
        var timesteps = new int[numInferenceSteps];
        for (var i = 0; i < numInferenceSteps; i++)
        {
            var j = (int)Math.Floor(i * step);
            timesteps[i] = (gridLength - j) * k - 1;
        }
        return timesteps;
    }

    /// <summary>
    /// Consistency-model boundary scalings at an integer timestep, in float32 as diffusers computes them with a
    /// timestep tensor: s = t·timestep_scaling, c_skip = σd²/(s²+σd²), c_out = s/sqrt(s²+σd²).
    /// </summary>
    public (float CSkip, float COut) BoundaryScalings(int timestep)
    {
        var s = (float)timestep * (float)Config.TimestepScaling;
        var denominator = s * s + SigmaData * SigmaData;
        var cSkip = 1f / denominator * (SigmaData * SigmaData);
        var cOut = s / MathF.Sqrt(denominator);
        return (cSkip, cOut);
    }

    private static void CheckStrength(double strength)
    {
        if (!(strength > 0 && strength <= 1))
            throw new InvalidTimestepsException($"strength must be in (0, 1] (1 = text-to-image), got {Fmt(strength)}.");
    }

    private static string Fmt(double v) => v.ToString("0.0##############", CultureInfo.InvariantCulture);
}
