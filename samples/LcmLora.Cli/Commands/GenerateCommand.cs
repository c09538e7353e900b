using System.CommandLine;
using LcmLora.Checkpoints;
using LcmLora.Cli.Output;
using LcmLora.Imaging;
using LcmLora.IO;
using LcmLora.Models;
using LcmLora.Pipelines;
using LcmLora.Pipelines.Decoding;
using LcmLora.Runtime;
using LcmLora.Schedulers;
using TorchSharp;

namespace LcmLora.Cli.Commands;

/// <summary><c>lcmlora generate</c>: prompt in, PNG out, in four LCM steps by default.</summary>
public static class GenerateCommand
{
    private sealed class Options
    {
        public Option<string?> Model { get; } = new("--model") { Description = "An SDXL .safetensors single file, a diffusers folder, or a Hugging Face repo id (org/name or org/name/file.safetensors), downloaded into the Hugging Face cache on first use. Default: a built-in tiny random-weights model (for trying the CLI; it draws noise, not pictures)." };
        public Option<string?> Variant { get; } = new("--variant") { Description = "For a --model repo id: the weight variant to download, e.g. fp16 (half the download)." };
        public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "Tokenizer folder of text encoder 1 (default: the model folder's tokenizer/, else built in)." };
        public Option<string?> Tokenizer2 { get; } = new("--tokenizer-2") { Description = "Tokenizer folder of text encoder 2 (default: the model folder's tokenizer_2/, else built in)." };
        public Option<string> Prompt { get; } = new("--prompt") { Description = "What to draw.", Required = true };
        public Option<string?> Negative { get; } = new("--negative-prompt") { Description = "What to avoid (only used with --guidance above 1)." };
        public Option<int> Steps { get; } = new("--steps") { Description = "Denoising steps.", DefaultValueFactory = _ => 4 };
        public Option<double> Guidance { get; } = new("--guidance") { Description = "Classifier-free guidance scale; above 1 doubles the UNet work. LCM-LoRA: 1 to 2.", DefaultValueFactory = _ => 1.0 };
        public Option<ulong?> Seed { get; } = new("--seed") { Description = "Seed; the same seed gives the same image as diffusers with torch.Generator('cpu').manual_seed(seed)." };
        public Option<int?> Width { get; } = new("--width") { Description = "Width in pixels (default: the model's native size)." };
        public Option<int?> Height { get; } = new("--height") { Description = "Height in pixels (default: the model's native size)." };
        public Option<int> Batch { get; } = new("--batch") { Description = "Images to generate.", DefaultValueFactory = _ => 1 };
        public Option<string?> Timesteps { get; } = new("--timesteps") { Description = "Custom LCM timesteps, comma-separated and strictly descending in 0..999 (e.g. 999,499); replaces --steps." };
        public Option<string> Scheduler { get; } = new("--scheduler") { Description = "lcm (default) or euler.", DefaultValueFactory = _ => "lcm" };
        public Option<string?> Latents { get; } = new("--latents") { Description = "Initial latents: a .safetensors file with a 'latents' tensor [B,4,H/8,W/8]." };
        public Option<string?> InitImage { get; } = new("--init-image") { Description = "Image-to-image: the starting image (PNG, JPEG...)." };
        public Option<double> Strength { get; } = new("--strength") { Description = "Image-to-image strength in (0, 1].", DefaultValueFactory = _ => 0.8 };
        public Option<string> Out { get; } = new("--out") { Description = "Output PNG (a batch writes name_0.png, name_1.png...).", DefaultValueFactory = _ => "out.png" };
        public Option<string?> SaveTensor { get; } = new("--save-tensor") { Description = "Also save 'image' (float [B,3,H,W] in 0..1) and 'latents' to this .safetensors file." };
        public Option<string[]> Lora { get; } = new("--lora") { Description = "FILE[:WEIGHT], repeatable (weight defaults to 1.0): fused before generating.", AllowMultipleArgumentsPerToken = false };
        public Option<string?> Vae { get; } = new("--vae") { Description = "Replacement decoder: a folder or file holding TAESD-XL or an SDXL AutoencoderKL (detected from its keys)." };
        public Option<string?> PreviewDir { get; } = new("--preview-dir") { Description = "Write step_N.png previews of every step, decoded with TAESD-XL (--preview-taesd, or --vae when it is TAESD)." };
        public Option<string?> PreviewTaesd { get; } = new("--preview-taesd") { Description = "TAESD-XL files for previews (default: --vae when it is TAESD)." };
        public Option<string> Tiling { get; } = new("--vae-tiling") { Description = "on, off or auto (tile only images larger than twice the VAE's native area).", DefaultValueFactory = _ => "auto" };
        public Option<int?> ClipSkip { get; } = new("--clip-skip") { Description = "Layers to skip from the penultimate text-encoder layer." };
        public Option<bool> Chunk { get; } = new("--chunk-prompts") { Description = "Encode prompts longer than 77 tokens in chunks instead of truncating." };
        public Option<bool> Json { get; } = new("--json") { Description = "Print a JSON summary (files, seed, timesteps, seconds, dtype, timings) on standard output." };
        public Option<bool> Quiet { get; } = new("--quiet") { Description = "No progress output." };
        public Option<bool> Force { get; } = OutputOptions.Force();
        public Option<string?> Config { get; } = ConfigOption.Create();
        public Option<string?> Unet { get; } = new("--unet") { Description = "Replace the model's UNet: a diffusers unet/ folder or a single file (e.g. a full LCM UNet such as latent-consistency/lcm-sdxl, used with SDXL base's other parts)." };
        public ModelOptions Runtime { get; } = new();
        public ImageGuidanceOptions ImageGuidance { get; } = new();
    }

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var o = new Options();
        var cmd = new Command("generate", "Generate images from a prompt (LCM, 4 steps, guidance 1 by default).\n\n" +
            "Examples:\n" +
            "  lcmlora generate --prompt \"a lighthouse at dusk\"                       (built-in tiny model)\n" +
            "  lcmlora generate --model stabilityai/stable-diffusion-xl-base-1.0 --variant fp16 --lora latent-consistency/lcm-lora-sdxl --prompt \"a lighthouse at dusk\"\n" +
            "  lcmlora generate --model sd_xl_base_1.0.safetensors --lora lcm-lora-sdxl.safetensors --prompt \"a lighthouse at dusk\" --seed 42 --width 512 --height 512\n" +
            "  lcmlora generate --model ./sdxl --lora lcm.safetensors --lora papercut.safetensors:0.8 --prompt \"papercut, a fox\" --out fox.png\n" +
            "  lcmlora generate --model ./sdxl --vae ./taesdxl --preview-dir previews --prompt \"a cabin\"");
        o.Scheduler.AcceptOnlyFromAmong("lcm", "euler");
        o.Tiling.AcceptOnlyFromAmong("on", "off", "auto");
        foreach (Option opt in new Option[] { o.Model, o.Variant, o.Tokenizer, o.Tokenizer2, o.Prompt, o.Negative, o.Steps, o.Guidance, o.Seed, o.Width, o.Height, o.Batch, o.Timesteps,
                     o.Scheduler, o.Latents, o.InitImage, o.Strength, o.Out, o.SaveTensor, o.Lora, o.Vae, o.PreviewDir, o.PreviewTaesd, o.Tiling, o.ClipSkip, o.Chunk, o.Json, o.Quiet, o.Force, o.Config, o.Unet })
            cmd.Add(opt);
        o.Runtime.AddTo(cmd);
        o.ImageGuidance.AddTo(cmd);
        cmd.SetAction((parse, ct) => Task.Run(() => Run(parse, o, ct), ct));
        return cmd;
    }

    /// <summary>The request properties and the options that set them, for messages.</summary>
    private static readonly Dictionary<string, string> OptionOf = new()
    {
        [nameof(GenerationRequest.Steps)] = "--steps",
        [nameof(GenerationRequest.GuidanceScale)] = "--guidance",
        [nameof(GenerationRequest.Width)] = "--width",
        [nameof(GenerationRequest.Height)] = "--height",
        [nameof(GenerationRequest.BatchSize)] = "--batch",
        [nameof(GenerationRequest.Strength)] = "--strength",
        [nameof(GenerationRequest.ClipSkip)] = "--clip-skip",
        [nameof(GenerationRequest.Timesteps)] = "--timesteps",
    };

    /// <summary>"999,499" to [999, 499]; the request checks order and range.</summary>
    private static int[]? ParseTimesteps(string? text)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out values[i]))
                throw new LcmLoraInputException($"--timesteps '{text}': '{parts[i]}' is not a whole number (expected e.g. 999,499).");
        return values;
    }

    private static int Run(ParseResult parse, Options o, CancellationToken ct)
    {
        var quiet = parse.GetValue(o.Quiet) || parse.GetValue(o.Json);
        ComputeThreads.Apply(parse.GetValue(o.Runtime.Threads));
        var modelArg = parse.GetValue(o.Model);
        var model = modelArg is null ? BuiltInCheckpoints.TinyRandomFolder() : HubReferences.Model(modelArg, quiet, ct, parse.GetValue(o.Variant));
        if (modelArg is null && !quiet) Console.Error.WriteLine("lcmlora: no --model given: using the built-in tiny SDXL with random weights (it draws noise, not pictures).");
        var options = new PipelineOptions
        {
            Device = ModelOptions.ParseDevice(parse.GetValue(o.Runtime.Device)!),
            Precision = ModelOptions.ParseDType(parse.GetValue(o.Runtime.DType)!),
            ConfigDir = parse.GetValue(o.Config),
            UNetPath = parse.GetValue(o.Unet),
            TokenizerDir = parse.GetValue(o.Tokenizer),
            Tokenizer2Dir = parse.GetValue(o.Tokenizer2),
        };

        // Everything that can be checked without the weights is checked before they load (a full-size load takes up
        // to a minute): options, output paths, LoRA and decoder files (headers only), the size for this model, steps.
        var loras = LoraOptions.ParseAndCheck(parse.GetValue(o.Lora) ?? [], quiet, ct);
        var previewDir = parse.GetValue(o.PreviewDir);
        CheckDecoders(parse.GetValue(o.Vae), parse.GetValue(o.PreviewTaesd), previewDir);
        using var latents = parse.GetValue(o.Latents) is { } latentsPath ? ReadLatents(latentsPath) : null;
        var request = new GenerationRequest
        {
            Prompt = parse.GetRequiredValue(o.Prompt),
            NegativePrompt = parse.GetValue(o.Negative),
            Steps = parse.GetValue(o.Steps),
            Timesteps = ParseTimesteps(parse.GetValue(o.Timesteps)),
            GuidanceScale = parse.GetValue(o.Guidance),
            Seed = parse.GetValue(o.Seed),
            Width = parse.GetValue(o.Width),
            Height = parse.GetValue(o.Height),
            BatchSize = parse.GetValue(o.Batch),
            Latents = latents,
            InitImage = parse.GetValue(o.InitImage) is { } init ? PngCodec.Load(init) : null,
            Strength = parse.GetValue(o.Strength),
            ClipSkip = parse.GetValue(o.ClipSkip),
            ChunkLongPrompts = parse.GetValue(o.Chunk),
            ReturnTensors = parse.GetValue(o.SaveTensor) is not null,
            Tiling = parse.GetValue(o.Tiling) switch { "on" => VaeTiling.On, "off" => VaeTiling.Off, _ => VaeTiling.Auto },
        };
        // Inpainting and ControlNet options are checked (mask read, image counts) before the weights load too.
        request = o.ImageGuidance.AddInpainting(parse, request);
        o.ImageGuidance.CheckControlNets(parse);
        var files = OutputNames(parse.GetValue(o.Out)!, request.BatchSize);
        var force = parse.GetValue(o.Force);
        foreach (var f in files) OutputOptions.Check("--out", f, force);
        if (parse.GetValue(o.SaveTensor) is { } tensorOut) OutputOptions.Check("--save-tensor", tensorOut, force);
        int sizeMultiple;
        using (var checkpoint = LcmLora.Checkpoints.SdxlCheckpoint.Open(model, options.ConfigDir, options.Variant)) sizeMultiple = checkpoint.SizeMultiple;
        try { request.Validate(sizeMultiple); }
        catch (InvalidRequestException e) when (OptionOf.ContainsKey(e.Property)) { throw new LcmLoraInputException($"{OptionOf[e.Property]}: {e.Problem}", e); }
        request = request with { Scheduler = CheckedScheduler(parse.GetValue(o.Scheduler)!, model, request) };

        var precision = ComputePrecisions.Choose(options.Precision, options.Device);
        if (!quiet) Console.Error.WriteLine($"lcmlora: dtype {precision.Name} ({precision.Reason})");
        if (precision.Warning is { } slow) Console.Error.WriteLine($"lcmlora: warning: {slow}");
        var loadClock = System.Diagnostics.Stopwatch.StartNew();
        using var pipeline = StepProgress.Run("load", 4, quiet, update =>
        {
            var done = 0;
            return SdxlPipeline.Load(model, options with { Progress = new InlineProgress<string>(c => update(++done, c)) }, ct);
        });
        var loadTime = loadClock.Elapsed;
        LoraOptions.Apply(pipeline, loras, quiet, ct);
        ConfigureDecoders(pipeline, parse.GetValue(o.Vae), parse.GetValue(o.PreviewTaesd), previewDir, options);
        ct.ThrowIfCancellationRequested();

        request = o.ImageGuidance.AddControlNets(parse, pipeline, request);
        using var result = Generate(pipeline, request, previewDir, quiet, loras, ct);
        foreach (var w in result.Warnings.Where(w => w != precision.Warning)) Console.Error.WriteLine($"lcmlora: warning: {w}");
        for (var i = 0; i < files.Count; i++)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(files[i]))!);
            PngCodec.Save(result.Images[i], files[i]);
        }
        if (parse.GetValue(o.SaveTensor) is { } tensorPath)
            SafeTensorsWriter.Save(tensorPath, new Dictionary<string, torch.Tensor> { ["image"] = result.ImageTensor!, ["latents"] = result.Latents! });
        Report(parse.GetValue(o.Json), files, result, loadTime);
        return ExitCodes.Ok;
    }

    private static GenerationResult Generate(SdxlPipeline pipeline, GenerationRequest request, string? previewDir, bool quiet, IReadOnlyList<LcmLora.Lora.LoraSpec> loras, CancellationToken ct)
    {
        try
        {
            return StepProgress.Run("steps", request.Steps, quiet, update => pipeline.Generate(request, new StepProgress.Steps(update, previewDir), ct));
        }
        catch (NonFiniteOutputException e) when (loras.Count > 0)
        {
            // The user chose the LoRAs and their weights: NaN or infinite pixels from them are bad input, not a bug.
            throw new LcmLoraInputException($"--lora {LoraOptions.Describe(loras)}: the image holds NaN or infinite values. " +
                "A weight this large (or a broken LoRA) overflows the model; use weights between about -2 and 2.", e);
        }
        finally
        {
            foreach (var unit in request.ControlNets) unit.Model.Dispose();
        }
    }

    /// <summary>The scheduler for the request, its timesteps computed once to check --steps (and --strength) against
    /// this model's scheduler configuration before anything loads.</summary>
    private static IScheduler CheckedScheduler(string name, string model, GenerationRequest request)
    {
        var scheduler = SchedulerFactory.Create(name, SchedulerConfig.ForModel(model));
        try
        {
            scheduler.SetTimesteps(request.Steps, request.InitImage is null ? 1.0 : request.Strength);
        }
        catch (InvalidTimestepsException e)
        {
            var strength = request.InitImage is null ? "" : $" --strength {request.Strength.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            var alternative = name == "lcm" ? ", or --scheduler euler for longer schedules" : "";
            throw new LcmLoraInputException($"--steps {request.Steps}{strength} with --scheduler {name}: {e.Message} " +
                $"Change --steps{(request.InitImage is null ? "" : " or --strength")}{alternative}.", e);
        }
        return scheduler;
    }

    /// <summary>Previews need TAESD-XL: --preview-taesd, or --vae when it is TAESD (decided from the headers).</summary>
    private static void CheckDecoders(string? vae, string? previewTaesd, string? previewDir)
    {
        var vaeKind = vae is null ? (LatentDecoderKind?)null : LatentDecoders.Detect(vae);
        if (previewTaesd is not null && LatentDecoders.Detect(previewTaesd) != LatentDecoderKind.Taesd)
            throw new LcmLoraInputException($"--preview-taesd {previewTaesd}: previews need TAESD-XL, but this is a full VAE.");
        if (previewDir is null) return;
        if (previewTaesd is null && vaeKind != LatentDecoderKind.Taesd)
            throw new LcmLoraInputException("--preview-dir needs TAESD-XL: pass --preview-taesd PATH (or --vae PATH when it is TAESD).");
        if (File.Exists(previewDir)) throw new LcmLoraInputException($"--preview-dir {previewDir}: is a file; give a folder.");
    }

    private static void ConfigureDecoders(SdxlPipeline pipeline, string? vae, string? previewTaesd, string? previewDir, PipelineOptions options)
    {
        if (vae is not null) pipeline.Decoder = LatentDecoders.Load(vae, options.Device);
        if (previewDir is null) return;
        Directory.CreateDirectory(previewDir);
        pipeline.PreviewDecoder = previewTaesd is not null ? LatentDecoders.Load(previewTaesd, options.Device) : pipeline.Decoder;
    }

    private static torch.Tensor ReadLatents(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Contains("latents")) throw new LcmLoraInputException($"{path}: no tensor named 'latents' (expected [B, 4, H/8, W/8]).");
        return file.Read("latents", torch.ScalarType.Float32);
    }

    /// <summary>The PNG names: <paramref name="outPath"/> itself for one image, name_0.png, name_1.png... for a batch.</summary>
    private static List<string> OutputNames(string outPath, int count)
    {
        if (count == 1) return [outPath];
        var dir = Path.GetDirectoryName(outPath) ?? "";
        return [.. Enumerable.Range(0, Math.Max(count, 0)).Select(i => Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(outPath)}_{i}{Path.GetExtension(outPath)}"))];
    }

    private static void Report(bool json, List<string> files, GenerationResult result, TimeSpan loadTime)
    {
        if (!json)
        {
            foreach (var f in files) Console.Error.WriteLine($"lcmlora: wrote {f} (seed {result.Seed?.ToString() ?? "from generator"}, {result.Elapsed.TotalSeconds:0.0} s)");
            return;
        }
        JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("files");
            foreach (var f in files) w.WriteStringValue(f);
            w.WriteEndArray();
            if (result.Seed is { } seed) w.WriteNumber("seed", seed);
            w.WriteStartArray("timesteps");
            foreach (var t in result.Timesteps) w.WriteNumberValue(t);
            w.WriteEndArray();
            w.WriteNumber("seconds", result.Elapsed.TotalSeconds);
            w.WriteString("dtype", ComputePrecisions.ShortName(result.DType));
            w.WriteStartObject("timings");
            w.WriteNumber("load_s", loadTime.TotalSeconds);
            w.WriteNumber("encode_s", result.Timings.Encode.TotalSeconds);
            w.WriteNumber("denoise_s", result.Timings.Denoise.TotalSeconds);
            w.WriteNumber("decode_s", result.Timings.Decode.TotalSeconds);
            w.WriteEndObject();
            w.WriteStartArray("warnings");
            foreach (var warning in result.Warnings) w.WriteStringValue(warning);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }
}
