using System.CommandLine;
using LcmLora.Checkpoints;
using LcmLora.Cli.Output;
using LcmLora.IO;
using LcmLora.Lora;
using LcmLora.Runtime;

namespace LcmLora.Cli.Commands;

/// <summary><c>lcmlora fuse</c>: bake LoRAs into a checkpoint once, in the input's layout.</summary>
public static class FuseCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The SDXL checkpoint: a single .safetensors file or a diffusers folder (or a Hugging Face repo id, downloaded on first use).", Required = true };
        var lora = new Option<string[]>("--lora") { Description = "FILE[:WEIGHT], repeatable (weight defaults to 1.0).", Required = true };
        var output = new Option<string>("--out") { Description = "Output file (single-file input) or folder (diffusers input).", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "fp16, bf16 or fp32 for every float tensor (default: as stored in the input)." };
        dtype.AcceptOnlyFromAmong("fp16", "bf16", "fp32");
        var json = new Option<bool>("--json") { Description = "Print a JSON summary." };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: physical cores)." };
        var force = OutputOptions.Force();
        var config = ConfigOption.Create();
        var cmd = new Command("fuse", "Fuse LoRAs (e.g. LCM-LoRA + a style) into a checkpoint and write it in the same layout, with every key and all metadata of the input.\n\n" +
            "Examples:\n  lcmlora fuse --model my-sdxl.safetensors --lora lcm-lora-sdxl.safetensors --out my-sdxl-lcm.safetensors\n" +
            "  lcmlora fuse --model ./sdxl --lora lcm.safetensors:1.0 --lora style.safetensors:0.8 --out ./sdxl-lcm-style --dtype fp16")
        {
            model, lora, output, dtype, json, threads, force, config,
        };
        cmd.SetAction((parse, ct) => Task.Run(() =>
        {
            ComputeThreads.Apply(parse.GetValue(threads));
            // Checked before anything loads: LoRA files (headers), weights, the output path (the library checks that it
            // is not the input and has the input's kind).
            var specs = LoraOptions.ParseAndCheck(parse.GetRequiredValue(lora), parse.GetValue(json), ct);
            var outPath = parse.GetRequiredValue(output);
            var floatType = parse.GetValue(dtype) switch { "fp16" => SafeTensorDType.F16, "bf16" => SafeTensorDType.BF16, "fp32" => SafeTensorDType.F32, _ => (SafeTensorDType?)null };
            var quiet = parse.GetValue(json);
            var modelPath = HubReferences.Model(parse.GetRequiredValue(model), quiet, ct);
            OutputOptions.Check("--out", outPath, parse.GetValue(force), folder: Directory.Exists(modelPath));
            var result = StepProgress.Run("fuse", 3 + specs.Count + 2, quiet, update =>
            {
                var done = 0;
                return CheckpointLoraFusion.Fuse(modelPath, specs, outPath, floatType, new InlineProgress<string>(stage => update(++done, stage)), ct, parse.GetValue(config));
            });
            foreach (var (adapter, report) in result.Reports)
                if (!report.IsComplete) Console.Error.WriteLine($"lcmlora: warning: {adapter}: {report}");
            if (quiet)
            {
                JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("output", result.Output);
                    w.WriteNumber("changed_tensors", result.ChangedTensors.Count);
                    w.WriteEndObject();
                });
            }
            else Console.Error.WriteLine($"lcmlora: wrote {result.Output} ({result.ChangedTensors.Count} tensors changed)");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }
}
