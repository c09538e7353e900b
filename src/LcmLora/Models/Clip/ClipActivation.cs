using TorchSharp;

namespace LcmLora.Models.Clip;

/// <summary>The MLP activation of a CLIP text encoder (transformers' <c>hidden_act</c>).</summary>
internal enum ClipActivation
{
    /// <summary><c>quick_gelu</c>: <c>x * sigmoid(1.702 x)</c> (OpenAI CLIP ViT-L, SDXL's first text encoder).</summary>
    QuickGelu,

    /// <summary><c>gelu</c>: the exact erf GELU (OpenCLIP ViT-bigG, SDXL's second text encoder).</summary>
    Gelu,
}

/// <summary>Parsing and applying <see cref="ClipActivation"/>.</summary>
internal static class ClipActivationExtensions
{
    /// <summary>The config.json spelling of the activation.</summary>
    public static string ConfigName(this ClipActivation activation) => activation switch
    {
        ClipActivation.QuickGelu => "quick_gelu",
        ClipActivation.Gelu => "gelu",
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };

    /// <summary>Parses a config.json <c>hidden_act</c> value; null when it is not one CLIP uses.</summary>
    public static ClipActivation? TryParse(string? configName) => configName switch
    {
        "quick_gelu" => ClipActivation.QuickGelu,
        "gelu" => ClipActivation.Gelu,
        _ => null,
    };

    /// <summary>Applies the activation (a new tensor).</summary>
    public static torch.Tensor Apply(this ClipActivation activation, torch.Tensor x) => activation switch
    {
        ClipActivation.QuickGelu => x * torch.sigmoid(x * 1.702),
        ClipActivation.Gelu => torch.nn.functional.gelu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };
}
