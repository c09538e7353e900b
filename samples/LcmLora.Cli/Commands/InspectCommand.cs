using System.CommandLine;
using LcmLora.Checkpoints;
using LcmLora.Cli.Output;
using LcmLora.IO;
using LcmLora.Lora;
using LcmLora.Models;

namespace LcmLora.Cli.Commands;

/// <summary>
/// <c>lcmlora inspect PATH [--model MODEL] [--tensors] [--json]</c>: what a file or folder is, from headers only. A
/// summary by default: an SDXL checkpoint (single file or diffusers folder) gets its layout and per-component mapping
/// report, a LoRA its format, rank/alpha summary and, with --model, how it matches that model, any other safetensors
/// file its tensor and parameter counts. --tensors adds every tensor of a single file.
/// </summary>
public static class InspectCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var path = new Argument<string>("PATH") { Description = "A .safetensors file (checkpoint, LoRA or any tensors), a diffusers folder, or a Hugging Face repo id (downloaded on first use)." };
        var model = new Option<string?>("--model") { Description = "For a LoRA: the SDXL checkpoint to match it against." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };
        var config = ConfigOption.Create();
        var tensors = new Option<bool>("--tensors") { Description = "Also list every tensor of a single file (name, dtype, shape)." };
        var cmd = new Command("inspect", "Describe a checkpoint, LoRA or tensor file from its headers (seconds, little memory, even for 7 GB files).\n\n" +
            "Examples:\n  lcmlora inspect sd_xl_base_1.0.safetensors --json\n  lcmlora inspect ./sdxl-diffusers-folder\n  lcmlora inspect embeddings.safetensors --tensors\n" +
            "  lcmlora inspect lcm-lora-sdxl.safetensors --model sd_xl_base_1.0.safetensors --json")
        {
            path, model, tensors, json, config,
        };
        cmd.SetAction((parse, ct) => Task.Run(() =>
        {
            ConfigDir = parse.GetValue(config);
            return Run(HubReferences.Model(parse.GetRequiredValue(path), parse.GetValue(json), ct), parse.GetValue(model), parse.GetValue(json),
                parse.GetValue(tensors), ct);
        }, ct));
        return cmd;
    }

    private static int Run(string path, string? model, bool json, bool tensors, CancellationToken ct)
    {
        if (Directory.Exists(path)) return InspectModel(path, null, json);
        using var file = SafeTensorsFile.Open(path);
        var listed = tensors ? file : null;
        if (SdxlCheckpoint.IsSingleFileCheckpoint(file)) return InspectModel(path, listed, json);
        if (TryDescribeLora(path) is { } lora) return InspectLora(lora, listed, model is null ? null : HubReferences.Model(model, json, ct), json);
        if (model is not null) throw new LcmLoraInputException($"{path}: --model is for LoRA files, and this file holds no LoRA modules.");
        if (json) InspectOutput.FileJson(file, tensors, null);
        else InspectOutput.FileText(file, tensors);
        return ExitCodes.Ok;
    }

    private static LoraSummary? TryDescribeLora(string path)
    {
        try { return LoraInspection.Describe(path); }
        catch (LoraFormatException) { return null; }
    }

    // --config of the running command (one command runs per process).
    private static string? ConfigDir;

    private static int InspectModel(string path, SafeTensorsFile? file, bool json)
    {
        using var checkpoint = SdxlCheckpoint.OpenForInspection(path, ConfigDir);
        var reports = checkpoint.Inspect();
        if (json)
        {
            if (file is not null) InspectOutput.FileJson(file, true, w => InspectOutput.ModelJson(w, checkpoint, reports));
            else InspectOutput.ModelOnlyJson(checkpoint, reports);
        }
        else
        {
            if (file is not null) InspectOutput.FileText(file, true);
            InspectOutput.ModelText(checkpoint, reports);
        }
        return ExitCodes.Ok;
    }

    private static int InspectLora(LoraSummary lora, SafeTensorsFile? file, string? modelPath, bool json)
    {
        var match = modelPath is null ? null : LoraInspection.Match(lora.Path, modelPath, ConfigDir);
        if (json) InspectOutput.LoraJson(lora, match, file);
        else
        {
            if (file is not null) InspectOutput.FileText(file, true);
            InspectOutput.LoraText(lora, match);
        }
        return ExitCodes.Ok;
    }
}
