using LcmLora.Models;
using LcmLora.Models.Taesd;
using static TorchSharp.torch;

namespace LcmLora.Checkpoints.Taesd;

/// <summary>Loads TAESD (<see cref="AutoencoderTiny"/>): builds it for located files and fills it through the layout's key map.</summary>
internal static class TaesdCheckpoint
{
    /// <summary>
    /// Loads a TAESD from <paramref name="path"/>: a diffusers <c>AutoencoderTiny</c> folder (<c>config.json</c> +
    /// <c>diffusion_pytorch_model.safetensors</c>), a folder holding the original <c>taesdxl_encoder.safetensors</c> /
    /// <c>taesdxl_decoder.safetensors</c> pair (either may be missing), or a single such file (that half only).
    /// See <see cref="TaesdFiles.Locate"/>.
    /// </summary>
    /// <param name="path">Folder or file.</param>
    /// <param name="config">Shape of the model; default: the folder's config.json, else <see cref="TaesdConfig.TaesdXl"/>.</param>
    /// <param name="device">Where to put the parameters (default CPU).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <exception cref="LcmLoraInputException">Nothing TAESD-like is there, or the weights do not fit the config.</exception>
    public static AutoencoderTiny Load(string path, TaesdConfig? config = null, Device? device = null, ScalarType? dtype = null) =>
        Load(TaesdFiles.Locate(path), config, device, dtype);

    /// <summary>Loads the weights <see cref="TaesdFiles.Locate"/> found (e.g. after showing the user what was found).</summary>
    /// <param name="files">Located weights.</param>
    /// <param name="config">Shape of the model; default: <see cref="TaesdFiles.ConfigJson"/>, else <see cref="TaesdConfig.TaesdXl"/>.</param>
    /// <param name="device">Where to put the parameters (default CPU).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <exception cref="LcmLoraInputException">The weights do not fit the config, or a file is malformed.</exception>
    public static AutoencoderTiny Load(TaesdFiles files, TaesdConfig? config = null, Device? device = null, ScalarType? dtype = null)
    {
        config ??= files.ConfigJson is { } json ? TaesdConfig.FromJson(json) : TaesdConfig.TaesdXl;
        var model = new AutoencoderTiny(config, files.Parts, device, dtype);
        try
        {
            if (files.Layout == TaesdLayout.Diffusers)
            {
                using var source = CheckpointTensors.Open(files.DiffusersWeights!);
                WeightLoader.Load(ModelComponent.Taesd.Name(), model, TaesdKeyMap.Diffusers(model.state_dict().Keys), source);
            }
            else
            {
                if (model.EncoderModule is { } encoder) LoadHalf(encoder, TaesdParts.Encoder, files.EncoderFile!);
                if (model.DecoderModule is { } decoder) LoadHalf(decoder, TaesdParts.Decoder, files.DecoderFile!);
            }
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads one original file; messages name it <c>taesd_encoder</c> or <c>taesd_decoder</c>.</summary>
    private static void LoadHalf(nn.Module half, TaesdParts which, string file)
    {
        using var source = CheckpointTensors.Open(file);
        WeightLoader.Load($"{ModelComponent.Taesd.Name()}_{which.ToString().ToLowerInvariant()}", half,
            TaesdKeyMap.Original(which, half.state_dict().Keys), source);
    }
}
