using LcmLora.IO;
using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// The tensors of one checkpoint, possibly spread over several memory-mapped safetensors files (a sharded
/// diffusers component), addressed by key. Reads are lazy: a tensor is materialized only when asked for.
/// </summary>
internal sealed class CheckpointTensors : IDisposable
{
    private readonly List<SafeTensorsFile> _files = [];
    private readonly Dictionary<string, SafeTensorsFile> _byKey = new(StringComparer.Ordinal);

    /// <summary>Opens the given files. A key present in two files is an error.</summary>
    public static CheckpointTensors Open(params string[] paths)
    {
        var result = new CheckpointTensors();
        try
        {
            foreach (var path in paths)
            {
                var file = SafeTensorsFile.Open(path);
                result._files.Add(file);
                foreach (var t in file.Tensors)
                    if (!result._byKey.TryAdd(t.Name, file))
                        throw new SafeTensorsFormatException(path, t.Name, $"also present in {result._byKey[t.Name].FilePath}.");
            }
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>The files, in the order given.</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>Every key.</summary>
    public IEnumerable<string> Keys => _byKey.Keys;

    /// <summary>Number of tensors.</summary>
    public int Count => _byKey.Count;

    /// <summary>Whether a key exists.</summary>
    public bool Contains(string key) => _byKey.ContainsKey(key);

    /// <summary>The header entry of a key.</summary>
    public SafeTensorInfo Info(string key) => FileOf(key).Info(key);

    /// <summary>The file that holds a key.</summary>
    public SafeTensorsFile FileOf(string key) =>
        _byKey.TryGetValue(key, out var f) ? f : throw new KeyNotFoundException($"{Describe()}: no tensor named '{key}'.");

    /// <summary>The shape our parameter gets from <paramref name="r"/>, computed from the header only.</summary>
    public long[] ShapeOf(TensorRef r)
    {
        var shape = (long[])Info(r.Key).Shape.Clone();
        if (r.Parts > 1 && shape.Length > 0) shape[0] /= r.Parts;
        return r.Transform switch
        {
            TensorTransform.Transpose when shape.Length == 2 => [shape[1], shape[0]],
            TensorTransform.SqueezeConv1x1 when shape.Length == 4 => [shape[0], shape[1]],
            _ => shape,
        };
    }

    /// <summary>Materializes the tensor <paramref name="r"/> describes, in <paramref name="dtype"/> on the CPU.</summary>
    /// <param name="r">Key, part and transform.</param>
    /// <param name="dtype">The element type of the result.</param>
    /// <param name="staging">Reused conversion memory (see <see cref="StagingBuffer"/>); default: a temporary one.</param>
    public torch.Tensor Read(TensorRef r, torch.ScalarType dtype, StagingBuffer? staging = null)
    {
        var (file, first, count) = RowsOf(r);
        var t = file.ReadRows(r.Key, first, count, dtype, staging);
        if (r.Transform == TensorTransform.Transpose)
        {
            using (t) return t.t().contiguous();
        }
        if (r.Transform == TensorTransform.SqueezeConv1x1)
        {
            using (t) return t.reshape(t.shape[0], t.shape[1]);
        }
        return t;
    }

    /// <summary>
    /// The tensor <paramref name="r"/> describes, in its on-disk type, as a view of <paramref name="staging"/> (valid
    /// until the buffer's next use). For copying into a live weight: <c>live.copy_(view)</c> converts the type, so
    /// restoring a weight allocates nothing.
    /// </summary>
    internal torch.Tensor ReadStaged(TensorRef r, StagingBuffer staging)
    {
        var (file, first, count) = RowsOf(r);
        var t = file.ReadRowsStaged(r.Key, first, count, staging);
        if (r.Transform == TensorTransform.None) return t;
        using (t) return r.Transform == TensorTransform.Transpose ? t.t() : t.reshape(t.shape[0], t.shape[1]);
    }

    /// <summary>The file holding <paramref name="r"/> and the rows of its part.</summary>
    private (SafeTensorsFile File, long First, long Count) RowsOf(TensorRef r)
    {
        var file = FileOf(r.Key);
        var info = file.Info(r.Key);
        var rows = info.Shape.Length == 0 ? 1 : info.Shape[0];
        if (r.Parts > 1 && (info.Shape.Length == 0 || rows % r.Parts != 0))
            throw new SafeTensorsFormatException(file.FilePath, r.Key, $"shape {info.ShapeText} cannot be split into {r.Parts} row blocks.");
        var partRows = rows / r.Parts;
        return (file, r.Part * partRows, partRows);
    }

    /// <summary>A short description: the file, or the first file and how many more.</summary>
    public string Describe() => _files.Count switch
    {
        0 => "(no files)",
        1 => _files[0].FilePath,
        _ => $"{_files[0].FilePath} (+{_files.Count - 1} shards)",
    };

    /// <summary>Unmaps every file.</summary>
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
        _byKey.Clear();
    }
}
