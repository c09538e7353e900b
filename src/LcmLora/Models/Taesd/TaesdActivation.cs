using TorchSharp;

namespace LcmLora.Models.Taesd;

/// <summary>
/// The activation inside the tiny autoencoder's blocks (diffusers' <c>act_fn</c>, resolved by <c>get_activation</c>).
/// Every released TAESD uses <see cref="Relu"/>. The block's final <c>fuse</c> is always a ReLU, whatever this is.
/// </summary>
internal enum TaesdActivation
{
    /// <summary><c>relu</c>.</summary>
    Relu,

    /// <summary><c>silu</c> (also spelled <c>swish</c>).</summary>
    Silu,

    /// <summary><c>gelu</c>: the exact erf GELU.</summary>
    Gelu,

    /// <summary><c>mish</c>.</summary>
    Mish,
}

/// <summary>Parsing <see cref="TaesdActivation"/> and building it as a layer.</summary>
internal static class TaesdActivationExtensions
{
    /// <summary>The config.json spelling.</summary>
    public static string ConfigName(this TaesdActivation activation) => activation switch
    {
        TaesdActivation.Relu => "relu",
        TaesdActivation.Silu => "silu",
        TaesdActivation.Gelu => "gelu",
        TaesdActivation.Mish => "mish",
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };

    /// <summary>Parses a config.json <c>act_fn</c> value (case-insensitive, as diffusers); null when unknown.</summary>
    public static TaesdActivation? TryParse(string? configName) => configName?.ToLowerInvariant() switch
    {
        "relu" => TaesdActivation.Relu,
        "silu" or "swish" => TaesdActivation.Silu,
        "gelu" => TaesdActivation.Gelu,
        "mish" => TaesdActivation.Mish,
        _ => null,
    };

    /// <summary>A parameter-free layer applying the activation.</summary>
    public static torch.nn.Module<torch.Tensor, torch.Tensor> CreateLayer(this TaesdActivation activation) => activation switch
    {
        TaesdActivation.Relu => torch.nn.ReLU(),
        TaesdActivation.Silu => torch.nn.SiLU(),
        TaesdActivation.Gelu => torch.nn.GELU(),
        TaesdActivation.Mish => torch.nn.Mish(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };
}
