using System.Collections.ObjectModel;
using System.Globalization;
using TorchSharp;

namespace LcmLora.Schedulers;

/// <summary>
/// Step bookkeeping shared by every <see cref="ISchedulerRun"/>: the timestep list, the step index, checks that the
/// caller passes the current timestep, and the step-noise source. Subclasses supply only the math.
/// </summary>
public abstract class SchedulerRun : ISchedulerRun
{
    private readonly float[] _timesteps;

    /// <summary>Creates a run over <paramref name="timesteps"/> (copied), starting at index 0.</summary>
    protected SchedulerRun(IEnumerable<float> timesteps)
    {
        _timesteps = timesteps.ToArray();
        if (_timesteps.Length == 0) throw new ArgumentException("A scheduler run needs at least one timestep.", nameof(timesteps));
        Timesteps = new ReadOnlyCollection<float>(_timesteps);
    }

    /// <inheritdoc />
    public IReadOnlyList<float> Timesteps { get; }

    /// <inheritdoc />
    public abstract float InitNoiseSigma { get; }

    /// <inheritdoc />
    public int StepIndex { get; private set; }

    /// <inheritdoc />
    public bool IsComplete => StepIndex >= _timesteps.Length;

    /// <inheritdoc />
    public void Reset(int beginIndex = 0)
    {
        if (beginIndex < 0 || beginIndex > _timesteps.Length)
            throw new ArgumentOutOfRangeException(nameof(beginIndex), beginIndex, $"Begin index must be in 0..{_timesteps.Length}.");
        StepIndex = beginIndex;
    }

    /// <inheritdoc />
    public torch.Tensor ScaleModelInput(torch.Tensor sample, float timestep)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return ScaleModelInputAt(CurrentIndex(timestep), sample);
    }

    /// <inheritdoc />
    public SchedulerStepResult Step(torch.Tensor modelOutput, float timestep, torch.Tensor sample, torch.Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(modelOutput);
        ArgumentNullException.ThrowIfNull(sample);
        var index = CurrentIndex(timestep);
        if (!modelOutput.shape.SequenceEqual(sample.shape))
            throw new ArgumentException(
                $"Model output shape [{string.Join(", ", modelOutput.shape)}] differs from sample shape [{string.Join(", ", sample.shape)}].",
                nameof(modelOutput));
        var result = StepAt(index, modelOutput, sample, generator);
        StepIndex = index + 1;
        return result;
    }

    /// <inheritdoc />
    public abstract torch.Tensor AddNoise(torch.Tensor originalSamples, torch.Tensor noise, float timestep);

    /// <summary>The model input at plan index <paramref name="index"/> (a new tensor handle).</summary>
    protected abstract torch.Tensor ScaleModelInputAt(int index, torch.Tensor sample);

    /// <summary>The step math at plan index <paramref name="index"/>; the base advances the index afterwards.</summary>
    protected abstract SchedulerStepResult StepAt(int index, torch.Tensor modelOutput, torch.Tensor sample, torch.Generator? generator);

    /// <summary>True when <paramref name="index"/> is the last entry of the plan.</summary>
    protected bool IsLastIndex(int index) => index == _timesteps.Length - 1;

    /// <summary>The first plan index holding <paramref name="timestep"/>.</summary>
    /// <exception cref="ArgumentException">The timestep is not in the plan.</exception>
    protected int IndexOf(float timestep)
    {
        var i = Array.IndexOf(_timesteps, timestep);
        if (i < 0)
            throw new ArgumentException($"Timestep {Format(timestep)} is not in this run's plan [{string.Join(", ", _timesteps.Select(Format))}].", nameof(timestep));
        return i;
    }

    /// <summary>
    /// Standard-normal noise the way diffusers' <c>randn_tensor</c> makes it with a CPU generator: drawn in float32 on
    /// the CPU from <paramref name="generator"/> (or torch's default generator), then moved to the target device and
    /// dtype. This reproduces PyTorch's CPU random stream for the same seed and call order.
    /// </summary>
    protected static torch.Tensor DrawNoise(long[] shape, torch.Generator? generator, torch.Device device, torch.ScalarType dtype)
    {
        var cpu = torch.randn(shape, dtype: torch.ScalarType.Float32, device: torch.CPU, generator: generator);
        if (device.type == DeviceType.CPU && dtype == torch.ScalarType.Float32) return cpu;
        using (cpu) return cpu.to(dtype, device);
    }

    private int CurrentIndex(float timestep)
    {
        if (IsComplete)
            throw new InvalidOperationException($"This scheduler run already stepped all {_timesteps.Length} timesteps; call Reset() or SetTimesteps() again.");
        if (_timesteps[StepIndex] != timestep)
            throw new InvalidOperationException(
                $"Expected the current timestep {Format(_timesteps[StepIndex])} (step {StepIndex}), got {Format(timestep)}. Steps must follow Timesteps in order.");
        return StepIndex;
    }

    private static string Format(float t) => t.ToString("R", CultureInfo.InvariantCulture);
}
