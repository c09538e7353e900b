using System.Globalization;
using LcmLora.Cli.Output;
using LcmLora.Lora;
using LcmLora.Pipelines;

namespace LcmLora.Cli.Commands;

/// <summary>Parses <c>--lora FILE[:WEIGHT]</c> values, checks them from headers, and fuses them into a pipeline.</summary>
public static class LoraOptions
{
    /// <summary>
    /// Splits <c>FILE[:WEIGHT]</c>: the part after the last ':' is the weight, unless the whole value names an existing
    /// file (or the ':' is a Windows drive's). The path is returned as given (a file or a Hugging Face reference).
    /// </summary>
    /// <exception cref="LcmLoraInputException">The weight is not a finite number.</exception>
    public static LoraSpec Parse(string value)
    {
        var colon = value.LastIndexOf(':');
        var isDrive = colon == 1 && char.IsAsciiLetter(value[0]);
        if (colon <= 0 || isDrive || File.Exists(value)) return new LoraSpec(value, 1.0);
        var text = value[(colon + 1)..];
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
            throw new LcmLoraInputException($"--lora {value}: the weight '{text}' is not a number (FILE[:WEIGHT], e.g. style.safetensors:0.8).");
        if (!double.IsFinite(weight)) throw new LcmLoraInputException($"--lora {value}: the weight must be a finite number; got '{text}'.");
        return new LoraSpec(value[..colon], weight);
    }

    /// <summary>
    /// Parses every value, resolves it to a local file (downloading a Hugging Face reference on first use), and checks
    /// from the headers only that each file is a LoRA, so a wrong file is reported before a model loads.
    /// </summary>
    public static IReadOnlyList<LoraSpec> ParseAndCheck(IEnumerable<string> values, bool quiet, CancellationToken ct)
    {
        var specs = values.Select(Parse).ToList().Select(s => s with { Path = HubReferences.WeightsFile(s.Path, quiet, ct) }).ToList();
        foreach (var spec in specs)
        {
            using var lora = LoraFile.Open(spec.Path);
            if (lora.Modules.Count == 0) throw new LcmLoraInputException($"--lora {spec.Path}: holds no LoRA modules (is it a checkpoint or another kind of file?).");
        }
        return specs;
    }

    /// <summary>A label for messages: each LoRA with its weight.</summary>
    public static string Describe(IEnumerable<LoraSpec> specs) =>
        string.Join(", ", specs.Select(s => $"{Path.GetFileName(s.Path)} at weight {s.Weight.ToString("R", CultureInfo.InvariantCulture)}"));

    /// <summary>Adds every LoRA to the pipeline's adapter set and fuses them in one pass.</summary>
    public static void Apply(SdxlPipeline pipeline, IReadOnlyList<LoraSpec> specs, bool quiet, CancellationToken cancellationToken)
    {
        if (specs.Count == 0) return;
        var names = new HashSet<string>();
        foreach (var spec in specs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = Path.GetFileNameWithoutExtension(spec.Path);
            for (var i = 2; !names.Add(name); i++) name = $"{Path.GetFileNameWithoutExtension(spec.Path)}#{i}";
            var adapter = pipeline.Loras.Add(name, spec.Path, spec.Weight);
            foreach (var report in adapter.Reports)
                if (!report.IsComplete) Console.Error.WriteLine($"lcmlora: warning: LoRA {spec.Path}: {report}");
            if (!quiet) Console.Error.WriteLine($"lcmlora: LoRA {spec.Path} (weight {spec.Weight.ToString(CultureInfo.InvariantCulture)}): {adapter.ModuleCount} modules matched");
        }
        StepProgress.Run("fuse", 1, quiet, update =>
        {
            pipeline.Loras.Fuse(cancellationToken);
            update(1, null);
            return 0;
        });
    }
}
