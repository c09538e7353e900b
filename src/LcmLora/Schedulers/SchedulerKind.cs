namespace LcmLora.Schedulers;

/// <summary>The schedulers this library implements (CLI names in parentheses). See <see cref="SchedulerFactory"/>.</summary>
public enum SchedulerKind
{
    /// <summary>(<c>lcm</c>) diffusers <c>LCMScheduler</c>: the default, for LCM-LoRA in 2–8 steps.</summary>
    Lcm,

    /// <summary>(<c>euler</c>) diffusers <c>EulerDiscreteScheduler</c>: SDXL base's default, for many-step sampling.</summary>
    Euler,
}
