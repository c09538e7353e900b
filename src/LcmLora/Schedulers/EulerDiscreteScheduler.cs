using System.Globalization;

namespace LcmLora.Schedulers;

/// <summary>
/// diffusers' <c>EulerDiscreteScheduler</c> (SDXL base's default) in its deterministic form (s_churn = 0): the
/// probability-flow ODE in σ space, σ_t = sqrt((1−ᾱ_t)/ᾱ_t). Timesteps are floats laid out by
/// <see cref="SchedulerConfig.TimestepSpacing"/>; σ at each timestep is linearly interpolated from the training table and
/// a final σ = 0 is appended. Immutable; each <see cref="SetTimesteps(int, double)"/> returns a fresh
/// <see cref="EulerDiscreteSchedulerRun"/>.
/// </summary>
/// <remarks>
/// img2img strength works as in the generic SDXL img2img pipeline (<c>get_timesteps</c>): the n-step plan is made,
/// then only its last min(int(n·strength), n) steps are kept. Karras/exponential/beta sigmas, log-linear
/// interpolation, continuous timesteps, a non-zero final sigma and s_churn noise are not implemented (refused).
/// </remarks>
public sealed class EulerDiscreteScheduler : IScheduler
{
    private readonly float[] _trainSigmas;

    /// <summary>Creates the scheduler; null means <see cref="SchedulerConfig.SdxlBase"/>.</summary>
    /// <exception cref="SchedulerConfigException">The config asks for an option this port does not implement.</exception>
    public EulerDiscreteScheduler(SchedulerConfig? config = null)
    {
        Config = config ?? SchedulerConfig.SdxlBase;
        Refuse(Config.InterpolationType != "linear", "interpolation_type", $"\"{Config.InterpolationType}\" (only \"linear\")");
        Refuse(Config.UseKarrasSigmas, "use_karras_sigmas", "true");
        Refuse(Config.UseExponentialSigmas, "use_exponential_sigmas", "true");
        Refuse(Config.UseBetaSigmas, "use_beta_sigmas", "true");
        Refuse(Config.TimestepType != "discrete", "timestep_type", $"\"{Config.TimestepType}\" (only \"discrete\")");
        Refuse(Config.FinalSigmasType != "zero", "final_sigmas_type", $"\"{Config.FinalSigmasType}\" (only \"zero\")");
        NoiseSchedule = NoiseSchedule.FromConfig(Config);
        // σ table computed in float32 exactly as torch evaluates ((1 - ᾱ) / ᾱ) ** 0.5.
        _trainSigmas = NoiseSchedule.AlphasCumprod.Select(a => MathF.Sqrt((1f - a) / a)).ToArray();
    }

    /// <inheritdoc />
    public string Name => "euler";

    /// <inheritdoc />
    public SchedulerConfig Config { get; }

    /// <inheritdoc />
    public NoiseSchedule NoiseSchedule { get; }

    /// <inheritdoc />
    ISchedulerRun IScheduler.SetTimesteps(int numInferenceSteps, double strength) => SetTimesteps(numInferenceSteps, strength);

    /// <summary>Plans <paramref name="numInferenceSteps"/> steps, keeping the last int(n·strength) of them for img2img.</summary>
    /// <exception cref="InvalidTimestepsException">Step count not in 1..N, strength not in (0, 1], or strength keeps no step.</exception>
    public EulerDiscreteSchedulerRun SetTimesteps(int numInferenceSteps, double strength = 1.0)
    {
        if (!(strength > 0 && strength <= 1))
            throw new InvalidTimestepsException($"strength must be in (0, 1] (1 = text-to-image), got {strength.ToString(CultureInfo.InvariantCulture)}.");
        var timesteps = ComputeTimesteps(Config.TimestepSpacing, NoiseSchedule.NumTrainTimesteps, numInferenceSteps, Config.StepsOffset);
        var sigmas = new float[timesteps.Length + 1];
        for (var i = 0; i < timesteps.Length; i++) sigmas[i] = (float)Interpolate(timesteps[i], _trainSigmas);
        sigmas[^1] = 0f;
        var max = sigmas.Max();
        // diffusers: σ_max for linspace/trailing spacing, sqrt(σ_max² + 1) for leading (float32 arithmetic).
        var initNoiseSigma = Config.TimestepSpacing == TimestepSpacing.Leading ? MathF.Sqrt(max * max + 1f) : max;

        var keep = Math.Min((int)(numInferenceSteps * strength), numInferenceSteps);
        var start = Math.Max(numInferenceSteps - keep, 0);
        if (start >= numInferenceSteps)
            throw new InvalidTimestepsException(
                $"strength {strength.ToString(CultureInfo.InvariantCulture)} with {numInferenceSteps} steps keeps no step (int(steps x strength) = 0); increase steps or strength.");
        return new EulerDiscreteSchedulerRun(this, timesteps[start..], sigmas[start..], initNoiseSigma);
    }

    /// <summary>
    /// The Euler inference timesteps (descending floats) for a spacing, as diffusers computes them:
    /// linspace = linspace(0, N−1, n) reversed; leading = (0..n−1)·(N div n) reversed + offset;
    /// trailing = round(arange(N, 0, −N/n)) − 1.
    /// </summary>
    /// <exception cref="InvalidTimestepsException">Step count not in 1..N.</exception>
    public static float[] ComputeTimesteps(TimestepSpacing spacing, int numTrainTimesteps, int numInferenceSteps, int stepsOffset = 0)
    {
        if (numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps)
            throw new InvalidTimestepsException($"num_inference_steps must be in 1..{numTrainTimesteps}, got {numInferenceSteps}.");
        var n = numInferenceSteps;
        var result = new float[n];
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
            {
                // numpy: i * ((N-1)/(n-1)) + 0 in double, last = N-1 exactly; a single step gives [0].
                double stop = numTrainTimesteps - 1, step = stop / (n - 1);
                for (var i = 0; i < n; i++) result[n - 1 - i] = n == 1 ? 0f : (float)(i == n - 1 ? stop : i * step);
                break;
            }
            case TimestepSpacing.Leading:
            {
                var ratio = numTrainTimesteps / n;
                for (var i = 0; i < n; i++) result[n - 1 - i] = (float)(i * ratio) + stepsOffset;
                break;
            }
            case TimestepSpacing.Trailing:
            {
                // numpy arange(N, 0, -N/n) values N + i*(-N/n), rounded half to even, minus 1. numpy sizes that
                // arange as ceil(N / (N/n)), which float rounding makes n + 1 for some n (61, 103, ...), adding a
                // bogus timestep -1; we always take exactly n values.
                double ratio = numTrainTimesteps / (double)n;
                for (var i = 0; i < n; i++)
                    result[i] = (float)Math.Round(numTrainTimesteps + i * -ratio, MidpointRounding.ToEven) - 1f;
                break;
            }
            default:
                throw new SchedulerConfigException($"Unknown timestep_spacing {spacing}.");
        }
        return result;
    }

    /// <summary>numpy <c>interp(x, arange(len), table)</c> in double.</summary>
    private static double Interpolate(double x, float[] table)
    {
        if (x <= 0) return table[0];
        if (x >= table.Length - 1) return table[^1];
        var j = (int)Math.Floor(x);
        if (x == j) return table[j];
        var slope = ((double)table[j + 1] - table[j]) / 1.0;
        return slope * (x - j) + table[j];
    }

    private static void Refuse(bool condition, string field, string value)
    {
        if (condition)
            throw new SchedulerConfigException($"Scheduler config field '{field}' = {value} is not supported by this port's Euler scheduler.");
    }
}
