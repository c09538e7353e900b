using System.CommandLine;
using LcmLora.Checkpoints;
using LcmLora.Cli.Output;
using LcmLora.IO;
using LcmLora.Lora;

namespace LcmLora.Cli.Commands;

/// <summary>
/// <c>lcmlora inspect PATH [--model MODEL] [--json]</c>: what a file or folder is, from headers only. A safetensors file
/// lists its tensors; an SDXL checkpoint (single file or diffusers folder) also gets its layout and per-component
/// mapping report; a LoRA gets its format, rank/alpha summary and, with --model, how it matches that model.
/// </summary>
public static class InspectCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var path = new Argument<string>("PATH") { Description = "A .safetensors file (checkpoint, LoRA or any tensors), a diffusers folder, or a Hugging Face repo id (downloaded on first use)." };
        var model = new Option<string?>("--model") { Description = "For a LoRA: the SDXL checkpoint to match it against." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };
        var cmd = new Command("inspect", "Describe a checkpoint, LoRA or tensor file from its headers (seconds, little memory, even for 7 GB files).\n\n" +
            "Examples:\n  lcmlora inspect sd_xl_base_1.0.safetensors --json\n  lcmlora inspect ./sdxl-diffusers-folder\n" +
            "  lcmlora inspect lcm-lora-sdxl.safetensors --model sd_xl_base_1.0.safetensors --json")
        {
            path, model, json,
        };
        cmd.SetAction((parse, ct) => Task.Run(() => Run(HubReferences.Model(parse.GetRequiredValue(path), parse.GetValue(json), ct), parse.GetValue(model), parse.GetValue(json), ct), ct));
        return cmd;
    }

    private static int Run(string path, string? model, bool json, CancellationToken ct)
    {
        if (Directory.Exists(path)) return InspectModel(path, null, json);
        using var file = SafeTensorsFile.Open(path);
        if (file.Tensors.Any(t => t.Name.StartsWith(UNetSgmNames.CheckpointPrefix, StringComparison.Ordinal)))
            return InspectModel(path, file, json);
        using var lora = TryOpenLora(path);
        if (lora is { Modules.Count: > 0 }) return InspectLora(lora, model is null ? null : HubReferences.Model(model, json, ct), json);
        if (model is not null) throw new LcmLoraInputException($"{path}: --model is for LoRA files, and this file holds no LoRA modules.");
        if (json) InspectOutput.TensorsJson(file, null);
        else InspectOutput.TensorsText(file);
        return ExitCodes.Ok;
    }

    private static LoraFile? TryOpenLora(string path)
    {
        try { return LoraFile.Open(path); }
        catch (LoraFormatException) { return null; }
    }

    private static int InspectModel(string path, SafeTensorsFile? file, bool json)
    {
        using var checkpoint = SdxlCheckpoint.Open(path);
        var reports = checkpoint.Inspect();
        if (json)
        {
            if (file is not null) InspectOutput.TensorsJson(file, w => InspectOutput.ModelJson(w, checkpoint, reports));
            else InspectOutput.ModelOnlyJson(checkpoint, reports);
        }
        else
        {
            if (file is not null) InspectOutput.TensorsText(file);
            InspectOutput.ModelText(checkpoint, reports);
        }
        return ExitCodes.Ok;
    }

    private static int InspectLora(LoraFile lora, string? modelPath, bool json)
    {
        LoraMatchResult? match = null;
        if (modelPath is not null)
        {
            using var checkpoint = SdxlCheckpoint.Open(modelPath);
            var shapes = new Dictionary<string, IReadOnlyDictionary<string, long[]>>();
            foreach (var c in new[] { "unet", "text_encoder", "text_encoder_2" })
            {
                using var meta = SdxlCheckpoint.Build(c, checkpoint.Configs, TorchSharp.torch.device("meta"));
                shapes[c] = WeightMap.ShapesOf(meta);
            }
            var layers = checkpoint.Configs.Unet.LayersPerBlock[0];
            try { match = LoraMatcher.Match(lora, new LoraNameMap(shapes, layers), LoraMatchMode.Lenient); }
            catch (LoraMismatchException e) { match = e.Result; }
        }
        if (json) InspectOutput.LoraJson(lora, match);
        else InspectOutput.LoraText(lora, match);
        return ExitCodes.Ok;
    }
}
