using TorchSharp;

namespace LcmLora.Schedulers;

/// <summary>
/// The outcome of one scheduler step. Both are distinct tensor handles owned by the caller (they may share storage,
/// e.g. on LCM's last step), so disposing one never invalidates the other.
/// </summary>
/// <param name="PrevSample">The sample for the next timestep (after the last step: the final latents).</param>
/// <param name="Denoised">
/// The current estimate of the clean sample x0 (LCM: <c>denoised</c> after the boundary condition; Euler:
/// <c>pred_original_sample</c>). Useful for previews.
/// </param>
public sealed record SchedulerStepResult(torch.Tensor PrevSample, torch.Tensor Denoised);
