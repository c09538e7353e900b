using LcmLora.Checkpoints;
using static TorchSharp.torch;

namespace LcmLora.Models.Taesd;

/// <summary>Builds an <see cref="AutoencoderTiny"/> for located files and fills it through the layout's key map.</summary>
internal static class TaesdLoader
{
    public static AutoencoderTiny Load(TaesdFiles files, TaesdConfig? config, Device? device, ScalarType? dtype)
    {
        config ??= files.ConfigJson is { } json ? TaesdConfig.FromJson(json) : TaesdConfig.TaesdXl;
        var model = new AutoencoderTiny(config, files.Parts, device, dtype);
        try
        {
            if (files.Layout == TaesdLayout.Diffusers)
            {
                using var source = CheckpointTensors.Open(files.DiffusersWeights!);
                WeightLoader.Load("taesd", model, TaesdKeyMap.Diffusers(model.state_dict().Keys), source);
            }
            else
            {
                if (model.EncoderModule is { } encoder) LoadHalf("taesd_encoder", encoder, TaesdParts.Encoder, files.EncoderFile!);
                if (model.DecoderModule is { } decoder) LoadHalf("taesd_decoder", decoder, TaesdParts.Decoder, files.DecoderFile!);
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

    private static void LoadHalf(string component, nn.Module half, TaesdParts which, string file)
    {
        using var source = CheckpointTensors.Open(file);
        WeightLoader.Load(component, half, TaesdKeyMap.Original(which, half.state_dict().Keys), source);
    }
}
