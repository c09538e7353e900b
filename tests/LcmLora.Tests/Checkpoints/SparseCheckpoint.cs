using System.Text.Json;

namespace LcmLora.Tests.Checkpoints;

/// <summary>Writes a safetensors file whose data section is sparse (takes no disk space): for header-only tests at full size.</summary>
public static class SparseCheckpoint
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, long[]>> tensors, string dtype = "F16", int elementSize = 2)
    {
        using var ms = new MemoryStream();
        long offset = 0;
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            foreach (var (name, shape) in tensors)
            {
                var bytes = shape.Aggregate(1L, (a, b) => a * b) * elementSize;
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype);
                w.WriteStartArray("shape");
                foreach (var d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        var header = ms.ToArray();
        using var f = new FileStream(path, FileMode.Create);
        f.Write(BitConverter.GetBytes((ulong)header.Length));
        f.Write(header);
        f.SetLength(8 + header.Length + offset);
    }
}
