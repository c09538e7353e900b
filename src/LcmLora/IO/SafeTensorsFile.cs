using System.IO.MemoryMappedFiles;
using TorchSharp;

namespace LcmLora.IO;

/// <summary>
/// A read-only, memory-mapped safetensors file. The header is validated in full when the file opens; tensors
/// are materialized lazily, one at a time, by copying straight from the mapping into TorchSharp tensor storage,
/// so no managed array of the file is ever made and loading needs no second copy of the weights. The file is the
/// final target of any links, opened once; its size and modification time are recorded then and checked (on the open
/// handle, so a file replaced by a rename keeps serving the bytes that were opened) before every read, so a file
/// rewritten or truncated in place is refused with <see cref="SafeTensorsFileChangedException"/> instead of yielding
/// other weights or a crash.
/// </summary>
/// <remarks>
/// Hand-written because no served .NET package reads safetensors (SafeTensorSharp is not available here and
/// TorchSharp has no reader). Format: 8-byte little-endian header length, a UTF-8 JSON header, then raw
/// little-endian tensor data.
/// </remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly FileStream _stream;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _data;
    private readonly long _length;
    private readonly DateTime _lastWrite;
    private bool _disposed;

    private SafeTensorsFile(string path, FileStream stream, SafeTensorsHeader header, MemoryMappedFile? map, MemoryMappedViewAccessor? view)
    {
        FilePath = path;
        Header = header;
        _stream = stream;
        _length = stream.Length;
        _lastWrite = File.GetLastWriteTimeUtc(stream.SafeFileHandle);
        _map = map;
        _view = view;
        if (view != null)
        {
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _data = p + view.PointerOffset + header.DataStart;
        }
    }

    /// <summary>The file's path.</summary>
    public string FilePath { get; }

    /// <summary>The validated header.</summary>
    internal SafeTensorsHeader Header { get; }

    /// <summary>Tensor entries in header order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors => Header.Tensors;

    /// <summary>The header's <c>__metadata__</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>Whether the file holds a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => Header.ByName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor; the message names the file.</exception>
    public SafeTensorInfo Info(string name) =>
        Header.ByName.TryGetValue(name, out var info) ? info : throw new KeyNotFoundException($"{FilePath}: no tensor named '{name}'.");

    /// <summary>Opens and validates <paramref name="path"/>. Pickle checkpoints are refused.</summary>
    /// <exception cref="SafeTensorsFormatException">The file is malformed.</exception>
    /// <exception cref="UnsupportedCheckpointFormatException">The file is a pickle checkpoint.</exception>
    public static SafeTensorsFile Open(string path)
    {
        CheckpointFormatGuard.ThrowIfPickle(path);
        var stream = RegularFile.OpenRead(path, 8, length => $"file is {length} bytes, too short for the 8-byte header length.");
        MemoryMappedFile? map = null;
        try
        {
            CheckpointFormatGuard.ThrowIfPickleContent(stream, path);
            stream.Position = 0;
            var header = SafeTensorsHeader.Read(stream, path);
            var length = stream.Length;
            if (length <= header.DataStart) return new SafeTensorsFile(path, stream, header, null, null);
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new SafeTensorsFile(path, stream, header, map, view);
        }
        catch
        {
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Throws when the file changed on disk since it was opened (its size or modification time differ): its mapped
    /// bytes are no longer the ones the header described, and reading them could give other weights or crash.
    /// </summary>
    /// <exception cref="SafeTensorsFileChangedException">It changed.</exception>
    internal void ThrowIfChanged()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var length = RandomAccess.GetLength(_stream.SafeFileHandle);
        var lastWrite = File.GetLastWriteTimeUtc(_stream.SafeFileHandle);
        if (length != _length || lastWrite != _lastWrite)
            throw new SafeTensorsFileChangedException(FilePath,
                $"changed on disk after it was opened (size {_length} -> {length} bytes, modified {_lastWrite:O} -> {lastWrite:O}); " +
                "its weights can no longer be read. Load the model again.");
    }

    /// <summary>The raw little-endian bytes of a tensor, straight from the mapping. Valid until disposal.</summary>
    /// <exception cref="SafeTensorsFileChangedException">The file changed on disk since it was opened.</exception>
    /// <exception cref="SafeTensorsFormatException">The tensor is 2 GiB or larger (read it in row blocks with <see cref="ReadRows"/>).</exception>
    internal ReadOnlySpan<byte> RawBytes(string name)
    {
        var info = Info(name);
        return MappedBytes(info, 0, info.ByteLength);
    }

    /// <summary>
    /// Materializes one tensor. It is created on the CPU in its on-disk type and filled from the mapping, or, when
    /// <paramref name="dtype"/> differs, created in that type and converted from a staging copy; then moved to
    /// <paramref name="device"/> when that is not the CPU.
    /// </summary>
    /// <param name="name">The tensor's key.</param>
    /// <param name="dtype">Wanted element type; default: the on-disk type (float8 becomes float32).</param>
    /// <param name="device">Wanted device; default: CPU.</param>
    /// <exception cref="KeyNotFoundException">No such tensor; the message names the file.</exception>
    /// <exception cref="SafeTensorsFileChangedException">The file changed on disk since it was opened.</exception>
    public torch.Tensor Read(string name, torch.ScalarType? dtype = null, torch.Device? device = null) => Read(name, dtype, device, null);

    /// <summary>As <see cref="Read(string, torch.ScalarType?, torch.Device?)"/>, converting through <paramref name="staging"/>
    /// (reused memory; null: a temporary allocation).</summary>
    internal torch.Tensor Read(string name, torch.ScalarType? dtype, torch.Device? device, StagingBuffer? staging)
    {
        var info = Info(name);
        var rows = info.Shape.Length == 0 ? 1 : info.Shape[0];
        var cpu = ReadRows(name, 0, rows, dtype, staging);
        var wantDevice = device ?? torch.CPU;
        if (wantDevice.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(wantDevice);
    }

    /// <summary>
    /// Materializes rows <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1 (along the
    /// first dimension) of a tensor on the CPU, reading only those rows' bytes: a fused weight (e.g. OpenCLIP's
    /// <c>in_proj_weight</c>) split into parts costs each part its own size, not the whole tensor's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows are outside the tensor.</exception>
    internal torch.Tensor ReadRows(string name, long first, long count, torch.ScalarType? dtype = null, StagingBuffer? staging = null)
    {
        var info = Info(name);
        var raw = RowBytes(info, first, count, out var shape);
        if (info.DType is SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2)
        {
            var values = new float[raw.Length];
            for (var i = 0; i < values.Length; i++) values[i] = SafeTensorDTypes.Float8ToSingle(raw[i], info.DType);
            var widened = torch.tensor(values, shape);
            if (dtype is not { } t || t == widened.dtype) return widened;
            using (widened) return widened.to(t);
        }
        var diskType = info.DType.ToScalarType();
        var result = torch.empty(shape, dtype ?? diskType);
        if (raw.Length == 0) return result;
        if (result.dtype == diskType)
        {
            raw.CopyTo(result.bytes);
            return result;
        }
        var temporary = staging is null ? new StagingBuffer() : null;
        try
        {
            using var stage = ReadRowsStaged(name, first, count, staging ?? temporary!);
            ReducedFloatCopy.Copy(result, stage);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
        finally
        {
            temporary?.Dispose();
        }
    }

    /// <summary>
    /// Rows of a tensor in their on-disk type, copied into <paramref name="staging"/> and returned as a view of it
    /// (valid until the buffer's next use; dispose the view, not the buffer). For callers that copy the values into
    /// an existing tensor anyway (<c>copy_</c> converts the type): no allocation per tensor.
    /// </summary>
    internal torch.Tensor ReadRowsStaged(string name, long first, long count, StagingBuffer staging)
    {
        var info = Info(name);
        if (info.DType is SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2) return ReadRows(name, first, count);
        var raw = RowBytes(info, first, count, out var shape);
        var stage = staging.Take(shape, info.DType.ToScalarType());
        if (raw.Length > 0) raw.CopyTo(stage.bytes);
        return stage;
    }

    /// <summary>The mapped bytes of rows <paramref name="first"/>.. of a tensor, and the shape they have.</summary>
    private ReadOnlySpan<byte> RowBytes(SafeTensorInfo info, long first, long count, out long[] shape)
    {
        var rows = info.Shape.Length == 0 ? 1 : info.Shape[0];
        if (first < 0 || count < 0 || first + count > rows)
            throw new ArgumentOutOfRangeException(nameof(first), $"{FilePath}: '{info.Name}' {info.ShapeText} has no rows {first}..{first + count - 1}.");
        shape = info.Shape.Length == 0 ? [] : [count, .. info.Shape[1..]];
        var rowBytes = rows == 0 ? 0 : info.ByteLength / rows;
        return MappedBytes(info, first * rowBytes, count * rowBytes);
    }

    /// <summary>
    /// <paramref name="length"/> mapped bytes of a tensor from <paramref name="offset"/> (within the tensor). One span
    /// holds less than 2 GiB: a larger tensor (an SDXL fine-tune's big embedding) is read in row blocks.
    /// </summary>
    private ReadOnlySpan<byte> MappedBytes(SafeTensorInfo info, long offset, long length)
    {
        ThrowIfChanged();
        if (length == 0) return ReadOnlySpan<byte>.Empty;
        if (length > int.MaxValue)
            throw new SafeTensorsFormatException(FilePath, info.Name,
                $"{info.DType} {info.ShapeText} is {length:N0} bytes; one read is limited to {int.MaxValue:N0} bytes (2 GiB). " +
                "Read a tensor this large in row blocks (SafeTensorsFile.ReadRows).");
        return new ReadOnlySpan<byte>(_data + info.DataBegin + offset, (int)length);
    }

    /// <summary>Releases the mapping. Tensors already read stay valid: they own their memory.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        _stream.Dispose();
    }
}
