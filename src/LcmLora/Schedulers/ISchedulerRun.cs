using TorchSharp;

namespace LcmLora.Schedulers;

/// <summary>
/// One generation's timestep plan and step state, made by <see cref="IScheduler.SetTimesteps"/>. Not thread-safe;
/// cheap (a few arrays, no native memory). <see cref="Reset"/> rewinds it so the same plan can run again.
/// Every returned tensor is a new tensor handle owned by the caller (it joins the caller's current dispose scope).
/// </summary>
public interface ISchedulerRun
{
    /// <summary>The timesteps to visit, in order (training-time units, descending). LCM's are whole numbers.</summary>
    IReadOnlyList<float> Timesteps { get; }

    /// <summary>Standard deviation of the initial noise: multiply N(0, 1) latents by it (LCM: 1).</summary>
    float InitNoiseSigma { get; }

    /// <summary>Index into <see cref="Timesteps"/> of the next <see cref="Step"/>; equals the count when finished.</summary>
    int StepIndex { get; }

    /// <summary>True once every timestep has been stepped.</summary>
    bool IsComplete { get; }

    /// <summary>Rewinds to <paramref name="beginIndex"/> (diffusers <c>set_begin_index</c>); 0 restarts the plan.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not in 0 .. Timesteps.Count.</exception>
    void Reset(int beginIndex = 0);

    /// <summary>The model input for the current step (Euler divides by sqrt(σ²+1); LCM returns the sample as is).</summary>
    /// <exception cref="InvalidOperationException"><paramref name="timestep"/> is not the current timestep.</exception>
    torch.Tensor ScaleModelInput(torch.Tensor sample, float timestep);

    /// <summary>
    /// Advances one step from <paramref name="sample"/> at the current <paramref name="timestep"/> given the model's
    /// output, then moves <see cref="StepIndex"/> on. A scheduler that injects noise draws it from
    /// <paramref name="generator"/> (a CPU generator; null means torch's default generator).
    /// </summary>
    /// <exception cref="InvalidOperationException">The run is complete, or <paramref name="timestep"/> is not the current one.</exception>
    /// <exception cref="ArgumentException">Shapes of <paramref name="modelOutput"/> and <paramref name="sample"/> differ.</exception>
    SchedulerStepResult Step(torch.Tensor modelOutput, float timestep, torch.Tensor sample, torch.Generator? generator = null);

    /// <summary>
    /// Noises a clean sample to <paramref name="timestep"/> (img2img start): LCM uses sqrt(ᾱ)·x0 + sqrt(1−ᾱ)·noise,
    /// Euler x0 + σ·noise. Does not change the step state.
    /// </summary>
    torch.Tensor AddNoise(torch.Tensor originalSamples, torch.Tensor noise, float timestep);
}
