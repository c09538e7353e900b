using System.Text;
using System.Text.Json;

namespace LcmLora.Cli.Output;

/// <summary>Writes one indented JSON object to standard output (through <see cref="Console.Out"/>).</summary>
public static class JsonOutput
{
    /// <summary>Builds the object with <paramref name="write"/> and prints it followed by a newline.</summary>
    public static void Write(Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(w);
        }
        Console.Out.WriteLine(Encoding.UTF8.GetString(ms.ToArray()));
    }
}
