using System.Collections.ObjectModel;
using TorchSharp;

namespace LcmLora.Schedulers;

/// <summary>
/// One Euler generation (diffusers <c>EulerDiscreteScheduler</c> after <c>set_timesteps</c>, s_churn = 0). The model
/// input is x/sqrt(σ²+1); a step estimates x0 for the prediction type, takes the ODE derivative d = (x − x0)/σ and
/// moves to the next σ: x' = x + d·(σ_next − σ). Deterministic: the generator is not used. The step math runs in
/// float32 (as diffusers upcasts) and the result is cast back to the model output's dtype.
/// </summary>
public sealed class EulerDiscreteSchedulerRun : SchedulerRun
{
    private readonly EulerDiscreteScheduler _scheduler;
    private readonly float[] _sigmas;

    internal EulerDiscreteSchedulerRun(EulerDiscreteScheduler scheduler, float[] timesteps, float[] sigmas, float initNoiseSigma)
        : base(timesteps)
    {
        _scheduler = scheduler;
        _sigmas = sigmas;
        Sigmas = new ReadOnlyCollection<float>(sigmas);
        InitNoiseSigma = initNoiseSigma;
    }

    /// <summary>σ for each timestep of the plan, followed by the final σ = 0 (length Timesteps.Count + 1, float32).</summary>
    public IReadOnlyList<float> Sigmas { get; }

    /// <summary>
    /// sqrt(σ_max² + 1) for leading spacing, σ_max otherwise, where σ_max is the largest σ of the full (uncut) plan,
    /// as diffusers' <c>init_noise_sigma</c>.
    /// </summary>
    public override float InitNoiseSigma { get; }

    /// <summary>Noises <paramref name="originalSamples"/> to a timestep of the plan: x0 + σ_t·noise.</summary>
    /// <exception cref="ArgumentException">The timestep is not in the plan.</exception>
    public override torch.Tensor AddNoise(torch.Tensor originalSamples, torch.Tensor noise, float timestep)
    {
        ArgumentNullException.ThrowIfNull(originalSamples);
        ArgumentNullException.ThrowIfNull(noise);
        var sigma = _sigmas[IndexOf(timestep)];
        using var scope = torch.NewDisposeScope();
        return (originalSamples + noise * sigma).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override torch.Tensor ScaleModelInputAt(int index, torch.Tensor sample)
    {
        var sigma = _sigmas[index];
        return sample / MathF.Sqrt(sigma * sigma + 1f);
    }

    /// <inheritdoc />
    protected override SchedulerStepResult StepAt(int index, torch.Tensor modelOutput, torch.Tensor sample, torch.Generator? generator)
    {
        var sigma = _sigmas[index];
        var sigmaNext = _sigmas[index + 1];
        var prediction = _scheduler.Config.PredictionType;

        using var scope = torch.NewDisposeScope();
        var x = sample.to(torch.ScalarType.Float32);
        var x0 = prediction switch
        {
            PredictionType.Epsilon => x - sigma * modelOutput,
            PredictionType.Sample => modelOutput.alias(),
            PredictionType.VPrediction =>
                modelOutput * (-sigma / MathF.Sqrt(sigma * sigma + 1f)) + x / (sigma * sigma + 1f),
            _ => throw new InvalidOperationException($"Unknown prediction type {prediction}."),
        };
        var derivative = (x - x0) / sigma;
        var dt = sigmaNext - sigma;
        var prev = (x + derivative * dt).to(modelOutput.dtype);
        return new SchedulerStepResult(prev.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }
}
