using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Models;

/// <summary>The four loaded SDXL modules, in eval mode, on one device.</summary>
public sealed class SdxlModels : IDisposable
{
    /// <summary>Groups modules that were built and loaded elsewhere.</summary>
    public SdxlModels(SdxlConfigs configs, SdxlUNet unet, ClipTextModel textEncoder, ClipTextModel textEncoder2, AutoencoderKL vae, torch.Device device, torch.ScalarType dtype)
    {
        Configs = configs;
        Unet = unet;
        TextEncoder = textEncoder;
        TextEncoder2 = textEncoder2;
        Vae = vae;
        Device = device;
        DType = dtype;
        foreach (var m in new torch.nn.Module[] { unet, textEncoder, textEncoder2, vae }) m.eval();
    }

    /// <summary>The architecture.</summary>
    public SdxlConfigs Configs { get; }

    /// <summary>The UNet.</summary>
    public SdxlUNet Unet { get; }

    /// <summary>CLIP ViT-L.</summary>
    public ClipTextModel TextEncoder { get; }

    /// <summary>OpenCLIP ViT-bigG with projection.</summary>
    public ClipTextModel TextEncoder2 { get; }

    /// <summary>The VAE (kept in float32 when the model dtype is float16 and the config asks for upcasting).</summary>
    public AutoencoderKL Vae { get; }

    /// <summary>The device every module lives on.</summary>
    public torch.Device Device { get; }

    /// <summary>The compute dtype of the UNet and text encoders.</summary>
    public torch.ScalarType DType { get; }

    /// <summary>The modules by component name (unet, text_encoder, text_encoder_2, vae).</summary>
    public IReadOnlyDictionary<string, torch.nn.Module> Components => new Dictionary<string, torch.nn.Module>
    {
        ["unet"] = Unet, ["text_encoder"] = TextEncoder, ["text_encoder_2"] = TextEncoder2, ["vae"] = Vae,
    };

    /// <summary>Frees every module's native memory.</summary>
    public void Dispose()
    {
        Unet.Dispose();
        TextEncoder.Dispose();
        TextEncoder2.Dispose();
        Vae.Dispose();
    }
}
