using System.IO.MemoryMappedFiles;
using LcmLora.Runtime;
using TorchSharp;

namespace LcmLora.IO;

/// <summary>
/// A read-only, memory-mapped safetensors file. The header is validated in full when the file opens; tensors
/// are materialized lazily, one at a time, by copying straight from the mapping into TorchSharp tensor storage,
/// so no managed array of the file is ever made and loading needs no second copy of the weights.
/// </summary>
/// <remarks>
/// Hand-written because no served .NET package reads safetensors (SafeTensorSharp is not available here and
/// TorchSharp has no reader). Format: 8-byte little-endian header length, a UTF-8 JSON header, then raw
/// little-endian tensor data.
/// </remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _data;
    private bool _disposed;

    private SafeTensorsFile(string path, SafeTensorsHeader header, MemoryMappedFile? map, MemoryMappedViewAccessor? view)
    {
        FilePath = path;
        Header = header;
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
    public SafeTensorsHeader Header { get; }

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
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        SafeTensorsHeader header;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess))
        {
            CheckpointFormatGuard.ThrowIfPickleContent(stream, path);
            stream.Position = 0;
            header = SafeTensorsHeader.Read(stream, path);
        }
        var length = new FileInfo(path).Length;
        if (length <= header.DataStart) return new SafeTensorsFile(path, header, null, null);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new SafeTensorsFile(path, header, map, view);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>The raw little-endian bytes of a tensor, straight from the mapping. Valid until disposal.</summary>
    public ReadOnlySpan<byte> RawBytes(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = Info(name);
        if (info.ByteLength == 0) return ReadOnlySpan<byte>.Empty;
        return new ReadOnlySpan<byte>(_data + info.DataBegin, checked((int)info.ByteLength));
    }

    /// <summary>
    /// Materializes one tensor. It is created on the CPU in its on-disk type, filled from the mapping, then
    /// converted to <paramref name="dtype"/> and moved to <paramref name="device"/> when those differ.
    /// </summary>
    /// <param name="name">The tensor's key.</param>
    /// <param name="dtype">Wanted element type; default: the on-disk type (float8 becomes float32).</param>
    /// <param name="device">Wanted device; default: CPU.</param>
    public torch.Tensor Read(string name, torch.ScalarType? dtype = null, torch.Device? device = null)
    {
        NativeRuntime.EnsureInitialized();
        var info = Info(name);
        var raw = RawBytes(name);
        torch.Tensor cpu;
        if (info.DType is SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2)
        {
            var values = new float[info.ElementCount];
            for (var i = 0; i < values.Length; i++) values[i] = SafeTensorDTypes.Float8ToSingle(raw[i], info.DType);
            cpu = torch.tensor(values, info.Shape);
        }
        else
        {
            cpu = torch.empty(info.Shape, info.DType.ToScalarType());
            if (raw.Length > 0) raw.CopyTo(cpu.bytes);
        }
        var wantType = dtype ?? cpu.dtype;
        var wantDevice = device ?? torch.CPU;
        if (wantType == cpu.dtype && wantDevice.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(wantType, wantDevice);
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
    }
}
