using System.Text.Json.Nodes;

namespace LcmLora.Checkpoints;

/// <summary>
/// How one component's config was settled for a checkpoint: the config (diffusers/transformers <c>config.json</c>
/// field names), where each field came from, which fields nothing could supply, and any conflict or invalid value.
/// </summary>
/// <param name="Component">The component name (<c>unet</c>, <c>text_encoder</c>, <c>text_encoder_2</c>, <c>vae</c>).</param>
/// <param name="Config">The merged config.</param>
/// <param name="Sources">Per field: <c>shapes</c> (read from the tensors), <c>config</c> (the user-supplied or the
/// folder's config.json) or <c>family default</c>.</param>
/// <param name="Missing">Fields neither the shapes, a supplied config nor the family's defaults determine.</param>
/// <param name="Problem">A conflict between the shapes and a supplied config, or a value the library cannot use.</param>
public sealed record ComponentConfigReport(
    string Component,
    JsonObject Config,
    IReadOnlyDictionary<string, string> Sources,
    IReadOnlyList<string> Missing,
    string? Problem)
{
    /// <summary>Field source: read from the tensor shapes.</summary>
    public const string FromShapes = "shapes";

    /// <summary>Field source: a config.json (the folder's, or one passed with --config).</summary>
    public const string FromConfig = "config";

    /// <summary>Field source: the model family's default.</summary>
    public const string FromFamily = "family default";

    /// <summary>True when the config is complete and usable.</summary>
    public bool IsComplete => Missing.Count == 0 && Problem is null;
}
