using System.Buffers.Binary;
using System.Text.Json;

namespace LcmLora.IO;

/// <summary>
/// The parsed and fully validated header of a safetensors file: every rule is checked before any tensor data
/// is touched, so a lying header can never cause an out-of-range read or an allocation sized by the file.
/// </summary>
internal sealed class SafeTensorsHeader
{
    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// Most tensors accepted in one file. A full SDXL checkpoint has about 2,500 and a full-size LoRA about 2,400; the
    /// bound keeps a header of a million tiny entries from costing gigabytes before it is refused.
    /// </summary>
    public const int MaxTensors = 100_000;

    private SafeTensorsHeader(IReadOnlyList<SafeTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata, long dataStart)
    {
        Tensors = tensors;
        ByName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Metadata = metadata;
        DataStart = dataStart;
    }

    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>Tensors by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> ByName { get; }

    /// <summary>The <c>__metadata__</c> entries (string to string).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Absolute file offset of the data section (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>Reads and validates the header of <paramref name="path"/>.</summary>
    /// <exception cref="SafeTensorsFormatException">Any rule is broken.</exception>
    public static SafeTensorsHeader Read(string path)
    {
        using var stream = RegularFile.OpenRead(path, 8, length => $"file is {length} bytes, too short for the 8-byte header length.");
        return Read(stream, path);
    }

    /// <summary>Reads and validates a header from the start of <paramref name="stream"/>.</summary>
    public static SafeTensorsHeader Read(Stream stream, string path)
    {
        var fileLength = stream.Length;
        if (fileLength < 8) throw new SafeTensorsFormatException(path, null, $"not a safetensors file: it is {fileLength} bytes, too short for the 8-byte header length.");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
            throw new SafeTensorsFormatException(path, null, $"not a safetensors file: its first 8 bytes give a header length of {headerLength}, above the {MaxHeaderBytes}-byte limit (a text file, or another format?).");
        if ((long)headerLength > fileLength - 8)
            throw new SafeTensorsFormatException(path, null, $"not a safetensors file, or a truncated one: the header length {headerLength} runs past the end of the {fileLength}-byte file.");
        var json = new byte[headerLength];
        stream.ReadExactly(json);
        return Parse(json, path, fileLength - 8 - (long)headerLength, 8 + (long)headerLength);
    }

    /// <summary>
    /// Validates header JSON bytes against a data section of <paramref name="dataLength"/> bytes. The bytes are parsed
    /// once, as UTF-8 (no text copy). The tensors must tile the data section exactly, as the reference implementation
    /// requires: no gap, no overlap, no trailing bytes (a header length that is off by a byte shifts every tensor).
    /// </summary>
    public static SafeTensorsHeader Parse(ReadOnlyMemory<byte> json, string path, long dataLength, long dataStart)
    {
        if (json.Length == 0 || json.Span[0] != (byte)'{')
            throw new SafeTensorsFormatException(path, null, "header must be a JSON object starting with '{' (is this a safetensors file?).");
        if (!System.Text.Unicode.Utf8.IsValid(json.Span)) throw new SafeTensorsFormatException(path, null, "header is not valid UTF-8.");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new SafeTensorsFormatException(path, null, $"header is not valid JSON ({e.Message}).", e); }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException(path, null, $"header must be a JSON object, found {doc.RootElement.ValueKind}.");
            var tensors = new List<SafeTensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(prop.Name)) throw new SafeTensorsFormatException(path, prop.Name, "appears twice in the header.");
                if (prop.Name == "__metadata__")
                {
                    ParseMetadata(prop.Value, path, metadata);
                    continue;
                }
                if (tensors.Count == MaxTensors)
                    throw new SafeTensorsFormatException(path, null, $"the header lists more than {MaxTensors} tensors.");
                tensors.Add(ParseTensor(prop, path, dataLength));
            }
            CheckContiguous(tensors, path, dataLength);
            return new SafeTensorsHeader(tensors, metadata, dataStart);
        }
    }

    private static void ParseMetadata(JsonElement value, string path, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException(path, null, "__metadata__ must be an object of strings.");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new SafeTensorsFormatException(path, null, $"__metadata__ entry '{m.Name}' must be a string, found {m.Value.ValueKind}.");
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                throw new SafeTensorsFormatException(path, null, $"__metadata__ entry '{m.Name}' appears twice.");
        }
    }

    private static SafeTensorInfo ParseTensor(JsonProperty prop, string path, long dataLength)
    {
        var name = prop.Name;
        SafeTensorsFormatException Bad(string what) => new(path, name, what);
        if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad("entry must be an object with dtype, shape and data_offsets.");
        var e = prop.Value;
        var fields = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in e.EnumerateObject())
        {
            if (field.Name is not ("dtype" or "shape" or "data_offsets")) throw Bad($"unexpected field '{field.Name}'.");
            if (!fields.Add(field.Name)) throw Bad($"field '{field.Name}' appears twice in its entry.");
        }

        if (!e.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw Bad("missing string 'dtype'.");
        if (!SafeTensorDTypes.TryParse(dtypeEl.GetString()!, out var dtype))
            throw Bad($"unknown dtype '{dtypeEl.GetString()}' (expected one of {string.Join(", ", Enum.GetNames<SafeTensorDType>())}).");

        if (!e.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw Bad("missing array 'shape'.");
        var shape = new long[shapeEl.GetArrayLength()];
        long elements = 1;
        var i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0)
                throw Bad($"shape entry {i} must be a non-negative integer, found {d.GetRawText()}.");
            shape[i++] = dim;
            try { elements = checked(elements * dim); }
            catch (OverflowException) { throw Bad($"shape [{string.Join(", ", shape.Take(i))}...] overflows a 64-bit element count."); }
        }
        long bytes;
        try { bytes = checked(elements * dtype.Size()); }
        catch (OverflowException) { throw Bad("byte size overflows 64 bits."); }

        if (!e.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw Bad("'data_offsets' must be an array of two integers.");
        var begin = ReadOffset(offEl[0]);
        var end = ReadOffset(offEl[1]);
        long ReadOffset(JsonElement o) =>
            o.ValueKind == JsonValueKind.Number && o.TryGetInt64(out var v) && v >= 0 ? v : throw Bad($"data offset {o.GetRawText()} is not a non-negative integer.");
        if (end < begin) throw Bad($"data_offsets [{begin}, {end}] are not ordered.");
        if (end > dataLength) throw Bad($"data_offsets [{begin}, {end}] run past the {dataLength}-byte data section (truncated file?).");
        if (end - begin != bytes)
            throw Bad($"data_offsets [{begin}, {end}] span {end - begin} bytes but {dtype} {ShapeText(shape)} needs {bytes}.");
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    private static void CheckContiguous(List<SafeTensorInfo> tensors, string path, long dataLength)
    {
        long end = 0;
        SafeTensorInfo? previous = null;
        foreach (var t in tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd))
        {
            if (previous != null && t.DataBegin < end)
                throw new SafeTensorsFormatException(path, t.Name,
                    $"data_offsets [{t.DataBegin}, {t.DataEnd}] overlap tensor '{previous.Name}' [{previous.DataBegin}, {previous.DataEnd}].");
            if (t.DataBegin > end)
                throw new SafeTensorsFormatException(path, t.Name,
                    $"data_offsets [{t.DataBegin}, {t.DataEnd}] leave a gap of {t.DataBegin - end} bytes after " +
                    (previous is null ? "the start of the data section" : $"tensor '{previous.Name}' (ends at {end})") +
                    "; tensors must follow each other without gaps (is the header length wrong?).");
            end = t.DataEnd;
            previous = t;
        }
        if (end != dataLength)
            throw new SafeTensorsFormatException(path, null,
                $"{dataLength - end} bytes follow the last tensor's data (the tensors cover {end} of the {dataLength}-byte data section; is the header length wrong?).");
    }

    private static string ShapeText(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
