namespace LcmLora.Checkpoints;

/// <summary>How an SDXL checkpoint is stored.</summary>
public enum CheckpointLayout
{
    /// <summary>One file in the original (SGM / Stability) layout: <c>model.diffusion_model.*</c>, <c>conditioner.embedders.*</c>, <c>first_stage_model.*</c>.</summary>
    SgmSingleFile,
    /// <summary>A diffusers pipeline folder: <c>unet/</c>, <c>text_encoder/</c>, <c>text_encoder_2/</c>, <c>vae/</c>.</summary>
    Diffusers,
}

/// <summary>Names used in reports and JSON output.</summary>
public static class CheckpointLayoutNames
{
    /// <summary><c>sgm-single-file</c> or <c>diffusers</c>.</summary>
    public static string Name(this CheckpointLayout layout) => layout == CheckpointLayout.Diffusers ? "diffusers" : "sgm-single-file";
}
