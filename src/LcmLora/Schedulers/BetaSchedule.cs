namespace LcmLora.Schedulers;

/// <summary>How the training noise schedule's betas are laid out (diffusers <c>beta_schedule</c>).</summary>
public enum BetaSchedule
{
    /// <summary><c>"linear"</c>: betas evenly spaced from beta_start to beta_end (float32).</summary>
    Linear,

    /// <summary><c>"scaled_linear"</c> (SD/SDXL): square roots evenly spaced, then squared, all in float32.</summary>
    ScaledLinear,

    /// <summary><c>"squaredcos_cap_v2"</c>: the Glide cosine schedule, each beta capped at 0.999.</summary>
    SquaredCosCapV2,
}
