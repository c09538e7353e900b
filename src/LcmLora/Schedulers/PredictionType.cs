namespace LcmLora.Schedulers;

/// <summary>What the denoising model predicts (diffusers <c>prediction_type</c>).</summary>
public enum PredictionType
{
    /// <summary><c>"epsilon"</c>: the added noise (SD/SDXL base).</summary>
    Epsilon,

    /// <summary><c>"sample"</c> (also accepted: <c>"original_sample"</c>): the clean sample x0 itself.</summary>
    Sample,

    /// <summary><c>"v_prediction"</c>: the velocity sqrt(ᾱ)·ε − sqrt(1−ᾱ)·x0.</summary>
    VPrediction,
}
