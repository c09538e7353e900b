namespace LcmLora.Schedulers;

/// <summary>
/// The requested timestep schedule is impossible: step count, img2img strength, <c>original_inference_steps</c> or a
/// custom timestep list that the scheduler cannot honour (the checks of diffusers' <c>set_timesteps</c>, with the
/// numbers and a remedy in the message).
/// </summary>
public sealed class InvalidTimestepsException : LcmLoraInputException
{
    /// <summary>Creates the exception.</summary>
    public InvalidTimestepsException(string message) : base(message) { }
}
