using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Models;

/// <summary>The loaded modules of a model (SDXL, SDXL refiner or SD 1.x), in eval mode, on one device.</summary>
internal sealed class SdxlModels : IDisposable
{
    /// <summary>Groups modules that were built and loaded elsewhere.</summary>
    internal SdxlModels(SdxlConfigs configs, SdxlUNet unet, ClipTextModel? textEncoder, ClipTextModel? textEncoder2, AutoencoderKL vae, torch.Device device, torch.ScalarType dtype)
    {
        Configs = configs;
        Unet = unet;
        TextEncoder = textEncoder;
        TextEncoder2 = textEncoder2;
        Vae = vae;
        Device = device;
        DType = dtype;
        foreach (var m in Components.Values) m.eval();
    }

    /// <summary>The architecture.</summary>
    internal SdxlConfigs Configs { get; private set; }

    /// <summary>The UNet.</summary>
    internal SdxlUNet Unet { get; private set; }

    /// <summary>CLIP ViT-L, or null when the model has none (SDXL refiner).</summary>
    internal ClipTextModel? TextEncoder { get; }

    /// <summary>OpenCLIP ViT-bigG with projection, or null when the model has none (SD 1.x).</summary>
    internal ClipTextModel? TextEncoder2 { get; }

    /// <summary>The VAE (kept in float32 when the model dtype is float16 and the config asks for upcasting).</summary>
    internal AutoencoderKL Vae { get; }

    /// <summary>The device every module lives on.</summary>
    public torch.Device Device { get; }

    /// <summary>The compute dtype of the UNet and text encoders.</summary>
    public torch.ScalarType DType { get; }

    /// <summary>The modules present, by component name (unet, text_encoder, text_encoder_2, vae).</summary>
    internal IReadOnlyDictionary<string, torch.nn.Module> Components
    {
        get
        {
            var all = new Dictionary<string, torch.nn.Module> { [ModelComponent.Unet.Name()] = Unet };
            if (TextEncoder is not null) all[ModelComponent.TextEncoder.Name()] = TextEncoder;
            if (TextEncoder2 is not null) all[ModelComponent.TextEncoder2.Name()] = TextEncoder2;
            all[ModelComponent.Vae.Name()] = Vae;
            return all;
        }
    }

    /// <summary>Puts <paramref name="unet"/> in place of the UNet (e.g. a 9-channel inpainting UNet) and returns the old one, which the caller disposes.</summary>
    internal SdxlUNet ReplaceUnet(SdxlUNet unet)
    {
        var old = Unet;
        unet.eval();
        Unet = unet;
        Configs = Configs with { Unet = unet.Config };
        return old;
    }

    /// <summary>Frees every module's native memory.</summary>
    public void Dispose()
    {
        Unet.Dispose();
        TextEncoder?.Dispose();
        TextEncoder2?.Dispose();
        Vae.Dispose();
    }
}
