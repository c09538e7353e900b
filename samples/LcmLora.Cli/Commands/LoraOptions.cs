using System.Globalization;
using LcmLora.Cli.Output;
using LcmLora.Lora;
using LcmLora.Pipelines;

namespace LcmLora.Cli.Commands;

/// <summary>Parses <c>--lora FILE[:WEIGHT]</c> values, checks them from headers, and fuses them into a pipeline.</summary>
public static class LoraOptions
{
    /// <summary>
    /// Splits <c>FILE[:WEIGHT]</c> with <see cref="LoraSpec.Parse"/> (the path is returned as given: a file or a Hugging
    /// Face reference); a bad weight is reported under <paramref name="option"/>.
    /// </summary>
    /// <exception cref="LcmLoraInputException">The weight is not a finite number.</exception>
    public static LoraSpec Parse(string value, string option = "--lora")
    {
        try
        {
            return LoraSpec.Parse(value);
        }
        catch (LcmLoraInputException e)
        {
            throw new LcmLoraInputException($"{option} {e.Message}", e);
        }
    }

    /// <summary>
    /// Parses every value, resolves it to a local file (downloading a Hugging Face reference on first use), and checks
    /// from the headers only that each file is a LoRA, so a wrong file is reported before a model loads.
    /// </summary>
    public static IReadOnlyList<LoraSpec> ParseAndCheck(IEnumerable<string> values, bool quiet, CancellationToken ct)
    {
        var specs = values.Select(v => Parse(v)).ToList().Select(s => s with { Path = HubReferences.WeightsFile(s.Path, quiet, ct) }).ToList();
        // LoraFormatException when a file holds no LoRA tensors (a checkpoint or another kind of file): the message names the file.
        foreach (var spec in specs) LoraInspection.Describe(spec.Path);
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
