namespace LcmLora.Schedulers;

/// <summary>
/// How a sigma-based scheduler spreads its inference timesteps over the training range (diffusers
/// <c>timestep_spacing</c>; Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed").
/// The LCM scheduler ignores it: its schedule comes from the distillation grid.
/// </summary>
public enum TimestepSpacing
{
    /// <summary><c>"linspace"</c>: evenly spaced from N−1 down to 0, possibly fractional.</summary>
    Linspace,

    /// <summary><c>"leading"</c> (SDXL): multiples of N / steps (integer division) plus <c>steps_offset</c>.</summary>
    Leading,

    /// <summary><c>"trailing"</c>: evenly spaced downward from N, rounded, minus one.</summary>
    Trailing,
}
