using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;

namespace LcmLora.IO;

/// <summary>
/// Writes a safetensors file in the standard layout (header padded with spaces to a multiple of 8 bytes),
/// streaming tensor by tensor: entries are declared up front with dtype and shape, and each one's bytes are
/// produced only when it is written, so saving a large model never holds a second copy of it.
/// </summary>
public sealed class SafeTensorsWriter
{
    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    private sealed record Entry(string Name, SafeTensorDType DType, long[] Shape, long Bytes, Action<Stream> Write);

    /// <summary>Number of entries added.</summary>
    public int Count => _entries.Count;

    /// <summary>Adds a tensor (CPU or not; any dtype safetensors can hold). It is read when written.</summary>
    public SafeTensorsWriter Add(string name, torch.Tensor tensor)
    {
        var dtype = SafeTensorDTypes.FromScalarType(tensor.dtype);
        return Add(name, dtype, tensor.shape, stream => WriteTensor(stream, tensor));
    }

    /// <summary>Adds an entry whose bytes come from <paramref name="writeData"/>, which must write exactly
    /// elements x dtype size bytes.</summary>
    public SafeTensorsWriter Add(string name, SafeTensorDType dtype, long[] shape, Action<Stream> writeData)
    {
        if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved.", nameof(name));
        if (!_names.Add(name)) throw new ArgumentException($"Tensor '{name}' was added twice.", nameof(name));
        var bytes = checked(shape.Aggregate(1L, (a, b) => a * b) * dtype.Size());
        _entries.Add(new Entry(name, dtype, (long[])shape.Clone(), bytes, writeData));
        return this;
    }

    /// <summary>Adds a tensor copied byte for byte from an open safetensors file.</summary>
    public SafeTensorsWriter AddRaw(SafeTensorsFile source, string sourceName, string? name = null)
    {
        var info = source.Info(sourceName);
        return Add(name ?? sourceName, info.DType, info.Shape, s => s.Write(source.RawBytes(sourceName)));
    }

    /// <summary>
    /// Writes the file atomically: to a hidden temporary file beside it, flushed to disk, then renamed into place. On
    /// any failure (a writer's exception, cancellation, a full disk) the temporary file is deleted and an existing file
    /// at <paramref name="path"/> is left as it was.
    /// </summary>
    /// <param name="path">The file to write (an existing regular file is replaced).</param>
    /// <param name="metadata">The <c>__metadata__</c> entries.</param>
    /// <param name="cancellationToken">Checked before each tensor.</param>
    /// <exception cref="LcmLoraInputException">The path is a directory, device node, FIFO or socket.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; nothing was written.</exception>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default) =>
        OutputFile.Write(path, stream =>
        {
            var header = BuildHeader(metadata);
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            stream.Write(len);
            stream.Write(header);
            foreach (var e in _entries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var start = stream.Position;
                e.Write(stream);
                if (stream.Position - start != e.Bytes)
                    throw new InvalidOperationException($"{path}: tensor '{e.Name}' wrote {stream.Position - start} bytes, expected {e.Bytes}.");
            }
        }, cancellationToken);

    private byte[] BuildHeader(IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in _entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.ToString());
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.Bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.Bytes;
            }
            w.WriteEndObject();
        }
        var json = ms.ToArray();
        var padded = (json.Length + 7) / 8 * 8;
        var result = new byte[padded];
        json.CopyTo(result, 0);
        for (var i = json.Length; i < padded; i++) result[i] = (byte)' ';
        return result;
    }

    private static void WriteTensor(Stream stream, torch.Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        var contiguous = cpu.contiguous();
        if (contiguous.numel() > 0) stream.Write(contiguous.bytes);
    }

    /// <summary>Convenience: writes named tensors plus metadata in one call.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var writer = new SafeTensorsWriter();
        foreach (var (name, t) in tensors) writer.Add(name, t);
        writer.Save(path, metadata);
    }
}
