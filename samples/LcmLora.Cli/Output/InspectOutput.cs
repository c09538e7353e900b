using System.Text.Json;
using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Lora;
using Spectre.Console;

namespace LcmLora.Cli.Output;

/// <summary>Text and JSON renderings for <c>lcmlora inspect</c>.</summary>
public static class InspectOutput
{
    /// <summary>Counts, dtypes and metadata of a safetensors file; with <paramref name="tensors"/>, every tensor as a table first.</summary>
    public static void FileText(SafeTensorsFile file, bool tensors)
    {
        var output = Terminal.Out;
        if (tensors)
        {
            var table = new Table().AddColumns("name", "dtype", "shape");
            foreach (var t in file.Tensors) table.AddRow(Terminal.Escape(t.Name), t.DType.ToString(), Terminal.Escape(t.ShapeText));
            output.Write(table);
        }
        var dtypes = file.Tensors.GroupBy(t => t.DType).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} x{g.Count()}");
        output.MarkupLine($"[bold]{file.Tensors.Count}[/] tensors ({Terminal.Escape(string.Join(", ", dtypes))}), [bold]{file.Tensors.Sum(t => t.ElementCount):N0}[/] parameters" +
            (tensors ? "" : " (--tensors lists them)"));
        foreach (var (k, v) in file.Metadata)
            output.MarkupLine($"metadata [grey]{Terminal.Escape(k)}[/] = {Terminal.Escape(v.Length > 200 ? v[..200] + "..." : v)}");
    }

    /// <summary>A file's counts and metadata as JSON (<c>"path"</c>, <c>"tensor_count"</c>, <c>"parameters"</c>, <c>"metadata"</c>),
    /// with <c>"tensors"</c> when asked and optional extra members (a model report).</summary>
    public static void FileJson(SafeTensorsFile file, bool tensors, Action<Utf8JsonWriter>? extra) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("path", file.FilePath);
        extra?.Invoke(w);
        FileMembers(w, file, tensors);
        w.WriteEndObject();
    });

    private static void FileMembers(Utf8JsonWriter w, SafeTensorsFile file, bool tensors)
    {
        w.WriteNumber("tensor_count", file.Tensors.Count);
        w.WriteNumber("parameters", file.Tensors.Sum(t => t.ElementCount));
        if (tensors)
        {
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
        }
        w.WriteStartObject("metadata");
        foreach (var (k, v) in file.Metadata) w.WriteString(k, v);
        w.WriteEndObject();
    }

    /// <summary>A folder's model report as JSON.</summary>
    public static void ModelOnlyJson(SdxlCheckpoint checkpoint, IReadOnlyList<MappingReport> reports) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("path", checkpoint.Path);
        ModelJson(w, checkpoint, reports);
        w.WriteEndObject();
    });

    /// <summary>Writes <c>"layout"</c> and <c>"components"</c> members.</summary>
    public static void ModelJson(Utf8JsonWriter w, SdxlCheckpoint checkpoint, IReadOnlyList<MappingReport> reports)
    {
        w.WriteString("layout", checkpoint.Layout.Name());
        w.WriteString("family", checkpoint.Family.Name);
        w.WriteStartObject("configs");
        foreach (var c in checkpoint.ConfigReports)
        {
            w.WriteStartObject(c.Component);
            w.WritePropertyName("config");
            c.Config.WriteTo(w);
            WriteList(w, "missing", c.Missing);
            if (c.Problem is not null) w.WriteString("problem", c.Problem);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteStartObject("components");
        foreach (var r in reports)
        {
            w.WriteStartObject(r.Component);
            w.WriteNumber("parameters", r.Parameters);
            WriteList(w, "missing", r.Missing);
            WriteList(w, "unexpected", r.Unexpected);
            WriteList(w, "shape_mismatches", r.ShapeMismatches);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>The model report as text.</summary>
    public static void ModelText(SdxlCheckpoint checkpoint, IReadOnlyList<MappingReport> reports)
    {
        Terminal.Out.MarkupLine($"[bold]SDXL checkpoint[/], layout [bold]{checkpoint.Layout.Name()}[/]");
        // "other" collects keys that belong to no component: worth a line only when there are any.
        foreach (var r in reports.Where(r => !(r.Component == "other" && r.Parameters == 0 && r.IsComplete)))
        {
            var status = r.IsComplete ? "[green]maps completely[/]" : "[red]does not map[/]";
            Terminal.Out.MarkupLine($"  {r.Component}: {r.Parameters:N0} parameters, {status}");
            foreach (var (label, items) in new[] { ("missing", r.Missing), ("unexpected", r.Unexpected), ("shape mismatch", r.ShapeMismatches) })
                foreach (var item in items.Take(20)) Terminal.Out.MarkupLine($"    {label}: {Terminal.Escape(item)}");
        }
    }

    /// <summary>A LoRA summary (and match report) as JSON: <c>{"lora": {format, modules, matched, unmatched, shape_mismatches, ...}}</c>.</summary>
    public static void LoraJson(LoraSummary lora, LoraMatchResult? match, SafeTensorsFile? tensors = null) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("path", lora.Path);
        if (tensors is not null) FileMembers(w, tensors, true);
        w.WriteStartObject("lora");
        w.WriteString("format", lora.Format.ToString());
        w.WriteNumber("modules", lora.ModuleCount);
        w.WriteStartArray("ranks");
        foreach (var rank in lora.Ranks.Keys) w.WriteNumberValue(rank);
        w.WriteEndArray();
        w.WriteStartArray("alphas");
        foreach (var alpha in lora.Alphas) w.WriteNumberValue(alpha);
        w.WriteEndArray();
        if (match is not null)
        {
            w.WriteNumber("matched", match.MatchedModules);
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
    public static void LoraText(LoraSummary lora, LoraMatchResult? match)
    {
        Terminal.Out.MarkupLine($"[bold]LoRA[/] {Terminal.Escape(lora.Path)}: {Terminal.Escape(lora.Format.ToString())}, {lora.ModuleCount} modules");
        var ranks = lora.Ranks.Select(kv => $"rank {kv.Key} x{kv.Value}");
        Terminal.Out.MarkupLine($"  {Terminal.Escape(string.Join(", ", ranks))}");
        Terminal.Out.MarkupLine($"  alpha: {(lora.Alphas.Count == 0 ? "none stored (alpha = rank)" : Terminal.Escape(string.Join(", ", lora.Alphas)))}");
        if (match is null) return;
        foreach (var r in match.Reports) Terminal.Out.MarkupLine($"  {Terminal.Escape(r.ToString())}");
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
