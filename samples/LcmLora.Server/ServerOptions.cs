namespace LcmLora.Server;

/// <summary>
/// Server settings, bound from the "Server" configuration section (appsettings.json, environment variables such as
/// <c>Server__QueueLimit=16</c>, or the command line: <c>--model</c>, <c>--lora FILE[:WEIGHT]</c> (repeatable), <c>--vae</c>,
/// <c>--preview-taesd</c>, <c>--device</c>, <c>--dtype</c>, <c>--threads</c>, <c>--queue-limit</c>, <c>--keep-results</c>,
/// <c>--keep-minutes</c>).
/// </summary>
public sealed class ServerOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Server";

    /// <summary>An SDXL single file, diffusers folder or Hugging Face repo id in the local cache; null: the built-in tiny model.</summary>
    public string? Model { get; set; }

    /// <summary>LoRA files as <c>FILE[:WEIGHT]</c>, fused at startup; requests may change their weights.</summary>
    public List<string> Loras { get; set; } = [];

    /// <summary>Replacement decoder (TAESD-XL or an SDXL VAE).</summary>
    public string? Vae { get; set; }

    /// <summary>TAESD-XL files for per-step previews (default: <see cref="Vae"/> when it is TAESD; otherwise no previews).</summary>
    public string? PreviewTaesd { get; set; }

    /// <summary>cpu or cuda.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>auto (bf16 where the hardware has it, else fp32), fp32, bf16 or fp16.</summary>
    public string DType { get; set; } = "auto";

    /// <summary>CPU threads for libtorch; null: one per physical core.</summary>
    public int? Threads { get; set; }

    /// <summary>Jobs that may wait behind the running one; one more gets 429 with Retry-After.</summary>
    public int QueueLimit { get; set; } = 8;

    /// <summary>Finished jobs (with their images) kept; older ones are deleted first.</summary>
    public int KeepResults { get; set; } = 50;

    /// <summary>Minutes a finished job and its images are kept.</summary>
    public double KeepMinutes { get; set; } = 60;

    /// <summary>Largest step count a request may ask for.</summary>
    public int MaxSteps { get; set; } = 50;

    /// <summary>Largest width or height in pixels.</summary>
    public int MaxSize { get; set; } = 2048;

    /// <summary>Largest batch.</summary>
    public int MaxBatch { get; set; } = 4;

    /// <summary>Longest prompt or negative prompt in characters.</summary>
    public int MaxPromptLength { get; set; } = 2000;

    /// <summary>Largest init image, in bytes after base64 decoding.</summary>
    public int MaxInitImageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Maps the CLI-style switches to configuration keys. <c>--lora</c> may repeat, which the configuration
    /// command-line provider cannot express (the last value would win), so each occurrence becomes its own indexed key.
    /// </summary>
    public static string[] MapArguments(string[] args)
    {
        var mapped = new List<string>();
        var loras = 0;
        for (var i = 0; i < args.Length; i++)
        {
            var (name, value, consumed) = Split(args, i);
            var key = name switch
            {
                "--model" => "Model",
                "--lora" => $"Loras:{loras++}",
                "--vae" => "Vae",
                "--preview-taesd" => "PreviewTaesd",
                "--device" => "Device",
                "--dtype" => "DType",
                "--threads" => "Threads",
                "--queue-limit" => "QueueLimit",
                "--keep-results" => "KeepResults",
                "--keep-minutes" => "KeepMinutes",
                "--max-steps" => "MaxSteps",
                "--max-size" => "MaxSize",
                _ => null,
            };
            if (key is null || value is null)
            {
                mapped.Add(args[i]);
                continue;
            }
            mapped.Add($"--{Section}:{key}={value}");
            i += consumed;
        }
        return [.. mapped];
    }

    private static (string Name, string? Value, int Consumed) Split(string[] args, int i)
    {
        var arg = args[i];
        var eq = arg.IndexOf('=');
        if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0) return (arg[..eq], arg[(eq + 1)..], 0);
        return i + 1 < args.Length ? (arg, args[i + 1], 1) : (arg, null, 0);
    }
}
