using LcmLora.Imaging;
using LcmLora.Models.ControlNet;

namespace LcmLora.Pipelines;

/// <summary>
/// One ControlNet in a <see cref="GenerationRequest"/>: the model, its control image (an edge map, a depth map...; resized
/// to the output size), its <c>controlnet_conditioning_scale</c> and the fraction of the steps it acts on
/// (diffusers' <c>control_guidance_start</c>/<c>control_guidance_end</c>). Several ControlNets add their residuals.
/// </summary>
/// <param name="Model">A loaded ControlNet (<c>ComponentCheckpoint.LoadControlNet</c>), on the pipeline's device and dtype.</param>
/// <param name="Image">The control image, used as is (run a preprocessor such as <see cref="ControlImages.Canny"/> first when needed).</param>
public sealed record ControlNetGuidance(SdxlControlNet Model, RgbImage Image)
{
    /// <summary>controlnet_conditioning_scale: the residuals are multiplied by it (0 = no effect).</summary>
    public double Scale { get; init; } = 1.0;

    /// <summary>control_guidance_start: the ControlNet acts from this fraction of the steps (0 = the first).</summary>
    public double GuidanceStart { get; init; }

    /// <summary>control_guidance_end: the ControlNet stops after this fraction of the steps (1 = the last).</summary>
    public double GuidanceEnd { get; init; } = 1.0;

    /// <summary>Whether the ControlNet acts at step <paramref name="index"/> of <paramref name="count"/> (diffusers' controlnet_keep).</summary>
    internal bool ActsAt(int index, int count) => !((double)index / count < GuidanceStart || (double)(index + 1) / count > GuidanceEnd);
}
