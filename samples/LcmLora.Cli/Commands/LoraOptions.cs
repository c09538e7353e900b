using System.Globalization;
using LcmLora.Cli.Output;
using LcmLora.Pipelines;

namespace LcmLora.Cli.Commands;

/// <summary>Parses <c>--lora FILE[:WEIGHT]</c> values and fuses them into a pipeline, reporting what did not match.</summary>
public static class LoraOptions
{
    /// <summary>One parsed --lora value.</summary>
    public sealed record Spec(string Path, double Weight);

    /// <summary>Splits <c>FILE[:WEIGHT]</c>; the weight is the part after the last ':' when it is a number.</summary>
    public static Spec Parse(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon > 0 && double.TryParse(value[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
            return new Spec(value[..colon], weight);
        return new Spec(value, 1.0);
    }

    /// <summary>Adds every LoRA to the pipeline's adapter set and fuses them in one pass.</summary>
    public static void Apply(SdxlPipeline pipeline, IReadOnlyList<string> values, bool quiet, CancellationToken ct = default)
    {
        if (values.Count == 0) return;
        var names = new HashSet<string>();
        foreach (var value in values)
        {
            var spec = Parse(value);
            var path = HubReferences.WeightsFile(spec.Path, quiet, ct);
            var name = Path.GetFileNameWithoutExtension(path);
            for (var i = 2; !names.Add(name); i++) name = $"{Path.GetFileNameWithoutExtension(path)}#{i}";
            var adapter = pipeline.Loras.Add(name, path, spec.Weight);
            foreach (var report in adapter.Reports)
                if (!report.IsComplete) Console.Error.WriteLine($"lcmlora: warning: LoRA {path}: {report}");
            if (!quiet) Console.Error.WriteLine($"lcmlora: LoRA {path} (weight {spec.Weight.ToString(CultureInfo.InvariantCulture)}): {adapter.ModuleCount} modules matched");
        }
        StepProgress.Run("fuse", 1, quiet, update =>
        {
            pipeline.Loras.Fuse();
            update(1, null);
            return 0;
        });
    }
}
