using LcmLora.IO;
using LcmLora.Models;
using LcmLora.Runtime;
using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>The built-in tiny SDXL (<see cref="BuiltInModels"/>) as a checkpoint on disk.</summary>
public static class BuiltInCheckpoints
{
    /// <summary>
    /// A diffusers pipeline folder holding the tiny model with random weights (seed 1234), written to the cache once.
    /// </summary>
    public static string TinyRandomFolder() => ResourceCache.Folder("tiny-sdxl-random", BuiltInModels.TinyConfigEntries(), staging =>
    {
        var configs = SdxlConfigs.FromFolderComponents(staging);
        torch.random.manual_seed(1234);
        foreach (var c in ModelComponents.All)
        {
            using var module = configs.Build(c);
            ResetNorms(module);
            SafeTensorsWriter.Save(Path.Combine(staging, c.Name(), DiffusersFolder.WeightFileName(c)), module.state_dict(),
                new Dictionary<string, string> { ["format"] = "pt", ["lcmlora"] = "built-in tiny SDXL, random weights (seed 1234)" });
        }
    });

    /// <summary>
    /// Sets every GroupNorm and LayerNorm to the identity affine (weight 1, bias 0). TorchSharp 0.107's GroupNorm leaves
    /// its affine parameters uninitialized (measured: NaN and huge values), which makes a randomly initialized model
    /// produce NaN; loaded models are unaffected because every weight comes from the checkpoint.
    /// </summary>
    private static void ResetNorms(torch.nn.Module module)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, m) in module.named_modules())
        {
            if (m is not (TorchSharp.Modules.GroupNorm or TorchSharp.Modules.LayerNorm)) continue;
            foreach (var (name, p) in m.named_parameters(recurse: false))
                if (name == "weight") p.fill_(1); else p.zero_();
        }
    }
}
