using System.Text.Json;
using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Lora;
using Spectre.Console;

namespace LcmLora.Cli.Output;

/// <summary>Text and JSON renderings for <c>lcmlora inspect</c>.</summary>
public static class InspectOutput
{
    /// <summary>Every tensor as a table, then counts and metadata.</summary>
    public static void TensorsText(SafeTensorsFile file)
    {
        var table = new Table().AddColumns("name", "dtype", "shape");
        foreach (var t in file.Tensors) table.AddRow(Markup.Escape(t.Name), t.DType.ToString(), Markup.Escape(t.ShapeText));
        Terminal.Out.Write(table);
        Terminal.Out.MarkupLine($"[bold]{file.Tensors.Count}[/] tensors, [bold]{file.Tensors.Sum(t => t.ElementCount):N0}[/] parameters");
        foreach (var (k, v) in file.Metadata)
            Terminal.Out.MarkupLine($"metadata [grey]{Markup.Escape(k)}[/] = {Markup.Escape(v.Length > 200 ? v[..200] + "..." : v)}");
    }

    /// <summary>The tensor listing as JSON, with optional extra members (a model report).</summary>
    public static void TensorsJson(SafeTensorsFile file, Action<Utf8JsonWriter>? extra) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("file", file.FilePath);
        extra?.Invoke(w);
        w.WriteNumber("tensor_count", file.Tensors.Count);
        w.WriteNumber("parameters", file.Tensors.Sum(t => t.ElementCount));
        w.WriteStartArray("tensors");
        foreach (var t in file.Tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("dtype", t.DType.ToString());
            WriteShape(w, "shape", t.Shape);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("metadata");
        foreach (var (k, v) in file.Metadata) w.WriteString(k, v);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary>A folder's model report as JSON.</summary>
    public static void ModelOnlyJson(SdxlCheckpoint checkpoint, IReadOnlyList<MappingReport> reports) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("path", checkpoint.Path);
        ModelJson(w, checkpoint, reports);
        w.WriteEndObject();
    });

    /// <summary>Writes <c>"layout"</c>, <c>"family"</c> and <c>"components"</c> members; each component has its mapping report and a
    /// <c>"config"</c> object in diffusers field names, with <c>"config_missing"</c> fields and any <c>"config_problem"</c>.</summary>
    public static void ModelJson(Utf8JsonWriter w, SdxlCheckpoint checkpoint, IReadOnlyList<MappingReport> reports)
    {
        w.WriteString("layout", checkpoint.Layout.Name());
        w.WriteString("family", checkpoint.Family.Name);
        var configs = checkpoint.ConfigReports.ToDictionary(c => c.Component);
        w.WriteStartObject("components");
        foreach (var name in configs.Keys.Union(reports.Select(r => r.Component)))
        {
            w.WriteStartObject(name);
            if (reports.FirstOrDefault(r => r.Component == name) is { } r)
            {
                w.WriteNumber("parameters", r.Parameters);
                WriteList(w, "missing", r.Missing);
                WriteList(w, "unexpected", r.Unexpected);
                WriteList(w, "shape_mismatches", r.ShapeMismatches);
            }
            if (configs.TryGetValue(name, out var c))
            {
                w.WritePropertyName("config");
                c.Config.WriteTo(w);
                w.WriteStartObject("config_sources");
                foreach (var (field, from) in c.Sources.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(field, from);
                w.WriteEndObject();
                WriteList(w, "config_missing", c.Missing);
                if (c.Problem is not null) w.WriteString("config_problem", c.Problem);
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>The model report as text.</summary>
    public static void ModelText(SdxlCheckpoint checkpoint, IReadOnlyList<MappingReport> reports)
    {
        Terminal.Out.MarkupLine($"[bold]{Markup.Escape(checkpoint.Family.Name)} checkpoint[/], layout [bold]{checkpoint.Layout.Name()}[/]");
        foreach (var c in checkpoint.ConfigReports)
        {
            if (c.Missing.Count > 0)
                Terminal.Out.MarkupLine($"  {c.Component} config: [red]cannot be completed[/]: {Markup.Escape(string.Join(", ", c.Missing))} not determined by the shapes (pass --config)");
            if (c.Problem is not null) Terminal.Out.MarkupLine($"  {c.Component} config: [red]{Markup.Escape(c.Problem)}[/]");
        }
        foreach (var r in reports)
        {
            var status = r.IsComplete ? "[green]maps completely[/]" : "[red]does not map[/]";
            Terminal.Out.MarkupLine($"  {r.Component}: {r.Parameters:N0} parameters, {status}");
            foreach (var (label, items) in new[] { ("missing", r.Missing), ("unexpected", r.Unexpected), ("shape mismatch", r.ShapeMismatches) })
                foreach (var item in items.Take(20)) Terminal.Out.MarkupLine($"    {label}: {Markup.Escape(item)}");
        }
    }

    /// <summary>A LoRA summary (and match report) as JSON: <c>{"lora": {format, modules, matched, unmatched, shape_mismatches, ...}}</c>.</summary>
    public static void LoraJson(LoraFile lora, LoraMatchResult? match) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("file", lora.Source);
        w.WriteStartObject("lora");
        w.WriteString("format", lora.Format.ToString());
        w.WriteNumber("modules", lora.Modules.Count);
        WriteList(w, "ranks", lora.Modules.Where(m => m.Rank > 0).Select(m => m.Rank).Distinct().Order().Select(r => r.ToString()).ToList());
        WriteList(w, "alphas", lora.Modules.Where(m => m.Alpha is not null).Select(m => m.Alpha!.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList());
        if (match is not null)
        {
            w.WriteNumber("matched", match.Matches.Count);
            WriteList(w, "unmatched", match.Reports.SelectMany(r => r.UnmatchedKeys).ToList());
            WriteList(w, "shape_mismatches", match.Reports.SelectMany(r => r.ShapeMismatches).ToList());
            WriteList(w, "problems", match.Reports.SelectMany(r => r.Problems).ToList());
            w.WriteStartObject("components");
            foreach (var r in match.Reports)
            {
                w.WriteStartObject(r.Component);
                w.WriteNumber("modules", r.ModulesInFile);
                w.WriteNumber("matched", r.Matched);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary>A LoRA summary (and match report) as text.</summary>
    public static void LoraText(LoraFile lora, LoraMatchResult? match)
    {
        Terminal.Out.MarkupLine($"[bold]LoRA[/] {Markup.Escape(lora.Source)}: {Markup.Escape(lora.Format.ToString())}, {lora.Modules.Count} modules");
        var ranks = lora.Modules.Where(m => m.Rank > 0).GroupBy(m => m.Rank).OrderBy(g => g.Key).Select(g => $"rank {g.Key} x{g.Count()}");
        Terminal.Out.MarkupLine($"  {Markup.Escape(string.Join(", ", ranks))}");
        var alphas = lora.Modules.Where(m => m.Alpha is not null).Select(m => m.Alpha!.Value).Distinct().ToList();
        Terminal.Out.MarkupLine($"  alpha: {(alphas.Count == 0 ? "none stored (alpha = rank)" : Markup.Escape(string.Join(", ", alphas)))}");
        if (match is null) return;
        foreach (var r in match.Reports) Terminal.Out.MarkupLine($"  {Markup.Escape(r.ToString())}");
    }

    private static void WriteShape(Utf8JsonWriter w, string name, long[] shape)
    {
        w.WriteStartArray(name);
        foreach (var d in shape) w.WriteNumberValue(d);
        w.WriteEndArray();
    }

    private static void WriteList(Utf8JsonWriter w, string name, IReadOnlyList<string> items)
    {
        w.WriteStartArray(name);
        foreach (var i in items) w.WriteStringValue(i);
        w.WriteEndArray();
    }
}
