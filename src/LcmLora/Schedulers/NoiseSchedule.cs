using System.Collections.ObjectModel;
using TorchSharp;

namespace LcmLora.Schedulers;

/// <summary>
/// The training noise schedule: betas and ᾱ_t = alphas_cumprod, one per training timestep. Computed in managed code
/// that reproduces diffusers' float32 torch operations (<c>linspace</c>, <c>** 2</c>, <c>1 - betas</c>,
/// <c>cumprod</c>) as the reference stack evaluates them, so the table matches the golden fixtures bit for bit and
/// does not depend on the libtorch build. Immutable plain arrays: holds no native memory, safe to share across
/// threads and generations.
/// </summary>
public sealed class NoiseSchedule
{
    private readonly float[] _betas;
    private readonly float[] _alphasCumprod;

    private NoiseSchedule(float[] betas, float[] alphasCumprod)
    {
        _betas = betas;
        _alphasCumprod = alphasCumprod;
        Betas = new ReadOnlyCollection<float>(betas);
        AlphasCumprod = new ReadOnlyCollection<float>(alphasCumprod);
    }

    /// <summary>Number of training timesteps N (timesteps are 0 .. N−1).</summary>
    public int NumTrainTimesteps => _betas.Length;

    /// <summary>β_t for t = 0 .. N−1 (float32).</summary>
    public IReadOnlyList<float> Betas { get; }

    /// <summary>ᾱ_t = ∏_{s≤t} (1 − β_s) for t = 0 .. N−1 (float32, as torch's float32 cumprod yields it).</summary>
    public IReadOnlyList<float> AlphasCumprod { get; }

    /// <summary>ᾱ at an integer training timestep.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The timestep is outside 0 .. N−1.</exception>
    public float AlphaCumprod(int timestep)
    {
        if ((uint)timestep >= (uint)_alphasCumprod.Length)
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"Timestep must be in 0..{_alphasCumprod.Length - 1}.");
        return _alphasCumprod[timestep];
    }

    /// <summary>A new float32 CPU tensor [N] holding ᾱ (caller owns it).</summary>
    public torch.Tensor AlphasCumprodTensor() => torch.tensor(_alphasCumprod, dtype: torch.ScalarType.Float32);

    /// <summary>The SDXL base schedule (scaled_linear, 0.00085 .. 0.012, 1000 steps).</summary>
    public static NoiseSchedule SdxlBase => SdxlBaseLazy.Value;

    private static readonly Lazy<NoiseSchedule> SdxlBaseLazy = new(() => FromConfig(SchedulerConfig.SdxlBase));

    /// <summary>Builds the schedule a diffusers scheduler would build from this config.</summary>
    /// <exception cref="SchedulerConfigException">Unsupported or impossible values (e.g. zero-SNR rescaling, fewer than 2 timesteps).</exception>
    public static NoiseSchedule FromConfig(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.RescaleBetasZeroSnr)
            throw new SchedulerConfigException("rescale_betas_zero_snr = true is not supported by this port (SDXL uses false).");
        if (config.TrainedBetas is { } trained)
        {
            if (trained.Count < 2) throw new SchedulerConfigException("trained_betas must hold at least two values.");
            return FromBetas(trained.Select(b => (float)b).ToArray());
        }
        var n = config.NumTrainTimesteps;
        if (n < 2) throw new SchedulerConfigException($"num_train_timesteps must be at least 2, got {n}.");
        var betas = config.BetaSchedule switch
        {
            BetaSchedule.Linear => TorchLinspace((float)config.BetaStart, (float)config.BetaEnd, n),
            BetaSchedule.ScaledLinear => TorchLinspace((float)Math.Sqrt(config.BetaStart), (float)Math.Sqrt(config.BetaEnd), n)
                .Select(x => x * x).ToArray(),
            BetaSchedule.SquaredCosCapV2 => CosineBetas(n).Select(b => (float)b).ToArray(),
            _ => throw new SchedulerConfigException($"Unknown beta_schedule {config.BetaSchedule}."),
        };
        return FromBetas(betas);
    }

    /// <summary>Builds the schedule from explicit betas (as diffusers does with <c>trained_betas</c>).</summary>
    /// <exception cref="SchedulerConfigException">A beta outside [0, 1).</exception>
    public static NoiseSchedule FromBetas(IReadOnlyList<float> betas)
    {
        ArgumentNullException.ThrowIfNull(betas);
        var b = betas.ToArray();
        if (b.Length < 2) throw new SchedulerConfigException("A noise schedule needs at least two betas.");
        if (b.Any(x => !(x >= 0f && x < 1f)))
            throw new SchedulerConfigException("Every beta must lie in [0, 1); check beta_start, beta_end and trained_betas.");
        // torch's CPU cumprod of a float32 tensor accumulates in double and rounds each output to float32.
        var a = new float[b.Length];
        double product = 1;
        for (var i = 0; i < b.Length; i++)
        {
            product *= 1f - b[i];
            a[i] = (float)product;
        }
        return new NoiseSchedule(b, a);
    }

    /// <summary>
    /// torch.linspace(start, end, steps, dtype=float32) exactly as the reference stack (torch 1.13, CPU, AVX2 kernel)
    /// evaluates it: step = (end − start)/(steps − 1) in float32; the first half counts up from start, the second half
    /// down from end; the vectorised body fills blocks of 8 as base + k·step from an FMA-rounded block base, the tail
    /// (past the last multiple of 16) element by element. Other torch builds may differ in the last bit of some
    /// betas (≤ 2.5e-7 relative in ᾱ for SDXL); this keeps the table bit-identical to the golden fixtures.
    /// </summary>
    internal static float[] TorchLinspace(float start, float end, int steps)
    {
        var result = new float[steps];
        if (steps == 1) { result[0] = start; return result; }
        var step = (end - start) / (steps - 1);
        var halfway = steps / 2;
        float At(int i) => i < halfway
            ? MathF.FusedMultiplyAdd(step, i, start)
            : MathF.FusedMultiplyAdd(-step, steps - i - 1, end);
        const int vector = 8;
        var vectorEnd = steps / (2 * vector) * (2 * vector);
        for (var i = 0; i < vectorEnd; i += vector)
        {
            var blockBase = At(i);
            for (var k = 0; k < vector; k++) result[i + k] = blockBase + k * step;
        }
        for (var i = vectorEnd; i < steps; i++) result[i] = At(i);
        return result;
    }

    /// <summary>Glide cosine betas: 1 − ᾱ(t₂)/ᾱ(t₁) per interval, capped at 0.999 (computed in double like Python).</summary>
    private static double[] CosineBetas(int n)
    {
        static double AlphaBar(double t) { var c = Math.Cos((t + 0.008) / 1.008 * Math.PI / 2); return c * c; }
        var betas = new double[n];
        for (var i = 0; i < n; i++)
            betas[i] = Math.Min(1 - AlphaBar((i + 1) / (double)n) / AlphaBar(i / (double)n), 0.999);
        return betas;
    }
}
