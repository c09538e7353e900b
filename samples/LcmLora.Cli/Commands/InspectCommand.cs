using System.CommandLine;
using System.Text.Json;
using LcmLora.Cli.Output;
using LcmLora.IO;
using Spectre.Console;

namespace LcmLora.Cli.Commands;

/// <summary><c>lcmlora inspect FILE [--json]</c>: tensors, dtypes, shapes, counts and metadata of a safetensors file.</summary>
public static class InspectCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var path = new Argument<string>("FILE") { Description = "A .safetensors file." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var cmd = new Command("inspect", "List every tensor (name, dtype, shape), the tensor count, parameter total and metadata.\n\n" +
            "Examples:\n  lcmlora inspect model.safetensors\n  lcmlora inspect model.safetensors --json")
        {
            path, json,
        };
        cmd.SetAction(parse => Run(parse.GetRequiredValue(path), parse.GetValue(json)));
        return cmd;
    }

    private static int Run(string path, bool json)
    {
        using var file = SafeTensorsFile.Open(path);
        var total = file.Tensors.Sum(t => t.ElementCount);
        if (json) WriteJson(file, total);
        else WriteText(file, total);
        return ExitCodes.Ok;
    }

    private static void WriteText(SafeTensorsFile file, long total)
    {
        var table = new Table().AddColumns("name", "dtype", "shape");
        foreach (var t in file.Tensors) table.AddRow(Markup.Escape(t.Name), t.DType.ToString(), Markup.Escape(t.ShapeText));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[bold]{file.Tensors.Count}[/] tensors, [bold]{total:N0}[/] parameters");
        foreach (var (k, v) in file.Metadata)
            AnsiConsole.MarkupLine($"metadata [grey]{Markup.Escape(k)}[/] = {Markup.Escape(v.Length > 200 ? v[..200] + "..." : v)}");
    }

    private static void WriteJson(SafeTensorsFile file, long total)
    {
        JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("file", file.FilePath);
            w.WriteNumber("tensor_count", file.Tensors.Count);
            w.WriteNumber("parameters", total);
            w.WriteStartArray("tensors");
            foreach (var t in file.Tensors)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteString("dtype", t.DType.ToString());
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("metadata");
            foreach (var (k, v) in file.Metadata) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }
}
