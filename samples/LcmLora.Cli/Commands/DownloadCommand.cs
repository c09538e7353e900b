using System.CommandLine;
using LcmLora.Cli.Output;
using LcmLora.Hub;

namespace LcmLora.Cli.Commands;

/// <summary><c>lcmlora download REPO [--revision R] [--file F]</c>: fetch a model into the Hugging Face cache ahead of time.</summary>
public static class DownloadCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var repo = new Argument<string>("REPO") { Description = "A Hugging Face repo id (org/name) or a file in one (org/name/path/file.safetensors)." };
        var revision = new Option<string?>("--revision") { Description = "Branch, tag or commit (default: main)." };
        var file = new Option<string?>("--file") { Description = "Download only this file of the repo (a path inside it)." };
        var variant = new Option<string?>("--variant") { Description = "Weight variant of a diffusers repo, e.g. fp16 (half the download; full precision where a component lacks it)." };
        var json = new Option<bool>("--json") { Description = "Print {\"path\": ...} as JSON." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress output." };
        var cmd = new Command("download", "Download a model or LoRA from the Hugging Face Hub into the cache Python tools share, and print its local path. " +
            "A diffusers repo gets what a pipeline needs (configs, tokenizers, one .safetensors variant), never pickles, ONNX or Flax files. " +
            "HF_ENDPOINT, HF_HUB_CACHE/HF_HOME, HF_TOKEN and HF_HUB_OFFLINE apply (docs/hub.md).\n\n" +
            "Examples:\n  lcmlora download stabilityai/stable-diffusion-xl-base-1.0 --variant fp16\n  lcmlora download latent-consistency/lcm-lora-sdxl\n" +
            "  lcmlora download latent-consistency/lcm-lora-sdxl --file pytorch_lora_weights.safetensors --revision main")
        {
            repo, revision, file, variant, json, quiet,
        };
        cmd.SetAction((parse, ct) => Task.Run(() =>
        {
            var reference = parse.GetRequiredValue(repo);
            var parts = reference.Split('/', 3);
            if (parts.Length < 2) throw new ArgumentException($"REPO '{reference}': expected a repo id org/name (or org/name/path/file).");
            var repoId = parts[0] + "/" + parts[1];
            var path = parse.GetValue(file) ?? (parts.Length == 3 ? parts[2] : null);
            using var hub = new HubModels();
            var local = DownloadProgress.Run(parse.GetValue(quiet) || parse.GetValue(json), progress => path is null
                ? hub.DownloadSnapshotAsync(repoId, parse.GetValue(revision), parse.GetValue(variant), progress, ct)
                : hub.DownloadFileAsync(repoId, path, parse.GetValue(revision), progress, ct));
            if (parse.GetValue(json)) JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("repo", repoId);
                w.WriteString("path", local);
                w.WriteEndObject();
            });
            else Console.Out.WriteLine(local);
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }
}
