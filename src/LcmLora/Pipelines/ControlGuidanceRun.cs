using LcmLora.Imaging;
using LcmLora.Models.ControlNet;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// The ControlNets of one generation, as diffusers' <c>StableDiffusionXLControlNetPipeline</c> (SDXL) and
/// <c>StableDiffusionControlNetPipeline</c> (SD 1.x): each control image resized to the output and scaled to [0, 1]
/// (no normalisation), repeated for the batch and for the classifier-free guidance rows; each SDXL ControlNet's
/// text_time embedding computed once (SD 1.x ControlNets have none); per step, every active ControlNet runs on the
/// UNet's own input and the residuals of all are summed (diffusers' <c>MultiControlNetModel</c>). A ControlNet whose
/// scale times keep is 0 at a step is skipped (its residuals would be zeros).
/// </summary>
internal sealed class ControlGuidanceRun
{
    private readonly IReadOnlyList<ControlNetGuidance> _units;
    private readonly torch.Tensor[] _images;
    private readonly torch.Tensor?[] _conditioning;

    /// <summary>Prepares the control images and conditioning. <c>pooled</c> and <c>timeIds</c> (the UNet rows' pooled text
    /// embeddings and micro-conditioning ids) are null for a UNet without added conditioning (SD 1.x), whose ControlNets
    /// have none either (checked by <c>ControlNetConfig.CheckFits</c>).</summary>
    public ControlGuidanceRun(IReadOnlyList<ControlNetGuidance> units, int width, int height, long rows, torch.Tensor? pooled, torch.Tensor? timeIds,
        torch.Device device, torch.ScalarType dtype)
    {
        _units = units;
        _images = units.Select(u => ControlImage(u.Image, width, height).repeat(rows, 1, 1, 1).to(device).to(dtype)).ToArray();
        _conditioning = units.Select(u => pooled is null || timeIds is null ? null : u.Model.ConditioningEmbedding(pooled.to(dtype), timeIds.to(dtype))).ToArray();
    }

    /// <summary>The control image as diffusers' control image processor gives it: <c>[1, 3, H, W]</c>, pixel / 255.</summary>
    internal static torch.Tensor ControlImage(RgbImage image, int width, int height)
    {
        var resized = PngCodec.Resize(image, width, height);
        using var bytes = torch.tensor(resized.Pixels, torch.ScalarType.Byte).reshape(1, height, width, 3);
        using var scope = torch.NewDisposeScope();
        return (bytes.permute(0, 3, 1, 2).to(torch.ScalarType.Float32) / 255.0).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The summed residuals of the ControlNets acting at this step, or null when none does.</summary>
    public ControlNetResiduals? Residuals(int index, int count, torch.Tensor input, torch.Tensor timestep, torch.Tensor embeds)
    {
        ControlNetResiduals? sum = null;
        for (var i = 0; i < _units.Count; i++)
        {
            var scale = _units[i].ActsAt(index, count) ? _units[i].Scale : 0.0;
            if (scale == 0) continue;
            var r = _units[i].Model.Residuals(input, timestep, embeds, _conditioning[i], _images[i], scale);
            sum = sum is null ? r : sum.Plus(r);
        }
        return sum;
    }
}
