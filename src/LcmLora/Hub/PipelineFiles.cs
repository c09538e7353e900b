using System.Text.Json;
using System.Text.RegularExpressions;

namespace LcmLora.Hub;

/// <summary>
/// Picks the files of a repository a pipeline needs, so a snapshot does not fetch every format a repo ships.
/// A diffusers repo (with <c>model_index.json</c>): <c>model_index.json</c> and, in each component folder it names,
/// the configs and tokenizer files plus one weight variant in <c>.safetensors</c> (the one asked for, else the
/// full-precision files, else whatever variant exists). Any other repo: every file but weights in other formats.
/// Pickles (<c>.bin</c>, <c>.ckpt</c>, <c>.pt</c>...), ONNX, OpenVINO and Flax files are never selected.
/// </summary>
internal static partial class PipelineFiles
{
    public const string ModelIndex = "model_index.json";

    private static readonly string[] NeverExtensions =
        [".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle", ".onnx", ".onnx_data", ".pb", ".msgpack", ".h5", ".tflite", ".mlmodel", ".xml", ".gguf", ".npz"];

    private static readonly string[] ConfigExtensions = [".json", ".txt", ".model", ".tiktoken"];

    // diffusion_pytorch_model.safetensors, model.fp16.safetensors, model.fp16-00001-of-00002.safetensors
    [GeneratedRegex(@"^(?<stem>[^.]+)(\.(?<variant>[^.\-]+))?(-\d+-of-\d+)?\.safetensors$")]
    private static partial Regex WeightName();

    // model.safetensors.index.json, model.safetensors.index.fp16.json, model.fp16.safetensors.index.json
    [GeneratedRegex(@"^(?<stem>[^.]+)(\.(?<variant>[^.]+))?\.safetensors\.index(\.(?<variant2>[^.]+))?\.json$")]
    private static partial Regex IndexName();

    // pytorch_model.bin.index.json, diffusion_flax_model.msgpack.index.json: the index of weights in another format
    [GeneratedRegex(@"\.(?<ext>[A-Za-z0-9_]+)\.index(\.[^.]+)?\.json$")]
    private static partial Regex ForeignIndex();

    /// <summary>True for files no pipeline of LcmLora reads and that may be pickles: never downloaded.</summary>
    public static bool IsExcluded(string path) =>
        NeverExtensions.Contains(Path.GetExtension(path).ToLowerInvariant())
        || (ForeignIndex().Match(path) is { Success: true } index && NeverExtensions.Contains("." + index.Groups["ext"].Value.ToLowerInvariant()))
        || path.Split('/').Any(s => s.Equals("flax", StringComparison.OrdinalIgnoreCase) || s.StartsWith("onnx", StringComparison.OrdinalIgnoreCase)
            || s.StartsWith("openvino", StringComparison.OrdinalIgnoreCase));

    /// <summary>The components of a diffusers <c>model_index.json</c>: keys whose value is a [library, class] pair.</summary>
    public static IReadOnlySet<string> Components(string modelIndexJson)
    {
        using var doc = JsonDocument.Parse(modelIndexJson);
        return doc.RootElement.EnumerateObject()
            .Where(p => !p.Name.StartsWith('_') && p.Value.ValueKind == JsonValueKind.Array && p.Value.GetArrayLength() == 2
                && p.Value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String))
            .Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The files of a diffusers repo to fetch for <paramref name="components"/>, with one weight variant per component.</summary>
    public static IReadOnlyList<string> ForDiffusers(IEnumerable<string> files, IReadOnlySet<string> components, string? variant)
    {
        var selected = new List<string>();
        foreach (var group in files.Where(f => !IsExcluded(f)).Select(f => (Path: f, Parts: f.Split('/')))
                     .Where(f => f.Parts.Length == 2 && components.Contains(f.Parts[0])).GroupBy(f => f.Parts[0]))
        {
            var weights = group.Select(f => (f.Path, Variant: WeightVariant(f.Parts[1]))).Where(f => f.Variant is not null).ToList();
            var chosen = ChooseVariant(weights.Select(w => w.Variant!).Distinct().ToList(), variant);
            selected.AddRange(weights.Where(w => w.Variant == chosen).Select(w => w.Path));
            selected.AddRange(group.Where(f => WeightVariant(f.Parts[1]) is null && ConfigExtensions.Contains(Path.GetExtension(f.Path).ToLowerInvariant()))
                .Select(f => f.Path));
        }
        return [ModelIndex, .. selected.Order(StringComparer.Ordinal)];
    }

    /// <summary>The files of a repo without <c>model_index.json</c> (a single-file checkpoint, a LoRA): all but excluded formats.</summary>
    public static IReadOnlyList<string> ForOtherRepo(IEnumerable<string> files) => files.Where(f => !IsExcluded(f)).Order(StringComparer.Ordinal).ToList();

    /// <summary>Top-level <c>.safetensors</c> files: the candidates when a repo id stands for one weights file.</summary>
    public static IReadOnlyList<string> TopLevelSafetensors(IEnumerable<string> files) =>
        files.Where(f => !f.Contains('/') && f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();

    /// <summary>For a weight file or weight index name: its variant ("" for none); null when it is not weights.</summary>
    private static string? WeightVariant(string name)
    {
        var m = IndexName().Match(name);
        if (m.Success) return m.Groups["variant"].Success ? m.Groups["variant"].Value : m.Groups["variant2"].Value;
        m = WeightName().Match(name);
        return m.Success ? m.Groups["variant"].Value : null;
    }

    private static string ChooseVariant(IReadOnlyList<string> available, string? wanted) =>
        wanted is not null && available.Contains(wanted) ? wanted
        : available.Contains("") ? ""
        : available.Contains("fp16") ? "fp16"
        : available.Order(StringComparer.Ordinal).FirstOrDefault() ?? "";
}
