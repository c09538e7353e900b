using System.Security.Cryptography;
using LcmLora.Imaging;
using LcmLora.Server.Generation;

namespace LcmLora.Server.Api;

/// <summary>The body of <c>POST /v1/images</c>. Every field but the prompt is optional.</summary>
public sealed record ImageRequest
{
    /// <summary>What to draw.</summary>
    public string? Prompt { get; init; }

    /// <summary>What to avoid (used only with guidance above 1).</summary>
    public string? NegativePrompt { get; init; }

    /// <summary>Denoising steps (default 4).</summary>
    public int? Steps { get; init; }

    /// <summary>Classifier-free guidance scale (default 1: none; LCM-LoRA works at 1 to 2).</summary>
    public double? Guidance { get; init; }

    /// <summary>Seed (default: random, reported in the job).</summary>
    public ulong? Seed { get; init; }

    /// <summary>Width in pixels (default: the model's native size).</summary>
    public int? Width { get; init; }

    /// <summary>Height in pixels (default: the model's native size).</summary>
    public int? Height { get; init; }

    /// <summary>Images to generate (default 1).</summary>
    public int? Batch { get; init; }

    /// <summary>lcm (default) or euler.</summary>
    public string? Scheduler { get; init; }

    /// <summary>Image-to-image: the starting image, base64 or a data URL (PNG, JPEG, WebP).</summary>
    public string? InitImage { get; init; }

    /// <summary>Image-to-image strength in (0, 1] (default 0.8).</summary>
    public double? Strength { get; init; }

    /// <summary>Weights for loaded LoRA adapters, by name (see <c>GET /v1/model</c>); adapters not named keep their weight.</summary>
    public Dictionary<string, double>? Loras { get; init; }

    /// <summary>
    /// Checks every field against the loaded model and the server's limits. Returns the resolved input, or the errors
    /// by field name (the JSON property names) for a 400 problem-details response.
    /// </summary>
    public (JobInput? Input, Dictionary<string, string[]> Errors) Validate(ModelInfo model, ServerOptions limits)
    {
        var errors = new Dictionary<string, string[]>();
        void Fail(string field, string message) => errors[field] = [message];

        if (string.IsNullOrWhiteSpace(Prompt)) Fail("prompt", "A prompt is required.");
        else if (Prompt.Length > limits.MaxPromptLength) Fail("prompt", $"At most {limits.MaxPromptLength} characters; got {Prompt.Length}.");
        if (NegativePrompt is { Length: var n } && n > limits.MaxPromptLength) Fail("negativePrompt", $"At most {limits.MaxPromptLength} characters; got {n}.");
        var steps = Steps ?? 4;
        if (steps < 1 || steps > limits.MaxSteps) Fail("steps", $"Must be between 1 and {limits.MaxSteps}; got {steps}.");
        var guidance = Guidance ?? 1.0;
        if (!double.IsFinite(guidance) || guidance < 0 || guidance > 30) Fail("guidance", $"Must be between 0 and 30; got {guidance}.");
        var width = Width ?? model.NativeSize;
        var height = Height ?? model.NativeSize;
        CheckSize("width", width);
        CheckSize("height", height);
        var batch = Batch ?? 1;
        if (batch < 1 || batch > limits.MaxBatch) Fail("batch", $"Must be between 1 and {limits.MaxBatch}; got {batch}.");
        var scheduler = Scheduler ?? "lcm";
        if (!model.Schedulers.Contains(scheduler)) Fail("scheduler", $"Unknown scheduler '{scheduler}'; expected one of {string.Join(", ", model.Schedulers)}.");
        var strength = Strength ?? 0.8;
        if (!(strength > 0 && strength <= 1)) Fail("strength", $"Must be in (0, 1]; got {strength}.");
        var init = InitImage is null ? null : DecodeInitImage(InitImage, limits.MaxInitImageBytes, Fail);
        foreach (var (name, weight) in Loras ?? [])
        {
            if (model.Loras.All(l => l.Name != name))
                Fail($"loras.{name}", model.Loras.Count == 0
                    ? $"Unknown LoRA '{name}': this server loaded none (start it with --lora FILE[:WEIGHT])."
                    : $"Unknown LoRA '{name}'; loaded: {string.Join(", ", model.Loras.Select(l => l.Name))}.");
            else if (!double.IsFinite(weight) || Math.Abs(weight) > 4) Fail($"loras.{name}", $"Weight must be between -4 and 4; got {weight}.");
        }
        if (errors.Count > 0) return (null, errors);
        return (new JobInput
        {
            Prompt = Prompt!,
            NegativePrompt = string.IsNullOrEmpty(NegativePrompt) ? null : NegativePrompt,
            Steps = steps,
            Guidance = guidance,
            Seed = Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) >> 11,
            Width = width,
            Height = height,
            Batch = batch,
            Scheduler = scheduler,
            Strength = strength,
            InitImage = init,
            Loras = Loras ?? [],
        }, errors);

        void CheckSize(string field, int value)
        {
            if (value < model.SizeMultiple || value > limits.MaxSize || value % model.SizeMultiple != 0)
                Fail(field, $"Must be a multiple of {model.SizeMultiple} between {model.SizeMultiple} and {limits.MaxSize}; got {value}.");
        }
    }

    private static RgbImage? DecodeInitImage(string text, int maxBytes, Action<string, string> fail)
    {
        var comma = text.StartsWith("data:", StringComparison.Ordinal) ? text.IndexOf(',') : -1;
        var base64 = comma >= 0 ? text[(comma + 1)..] : text;
        if (base64.Length / 4 * 3 > maxBytes)
        {
            fail("initImage", $"At most {maxBytes} bytes.");
            return null;
        }
        try
        {
            return PngCodec.Decode(Convert.FromBase64String(base64), "initImage");
        }
        catch (FormatException)
        {
            fail("initImage", "Not valid base64 (send the image bytes in base64, or a data URL).");
        }
        catch (LcmLoraInputException e)
        {
            fail("initImage", e.Message);
        }
        return null;
    }
}
