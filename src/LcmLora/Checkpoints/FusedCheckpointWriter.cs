using LcmLora.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Checkpoints;

/// <summary>
/// Writes a fused single-file checkpoint: a copy of an input safetensors checkpoint in which some tensors get new
/// values (the fused weights) and every other tensor is copied byte for byte. Header order and <c>__metadata__</c> are
/// preserved; each tensor keeps its stored dtype unless a float dtype is forced.
/// </summary>
internal static class FusedCheckpointWriter
{
    /// <summary>Writes <paramref name="outputPath"/> (through a temporary file, moved into place at the end).</summary>
    /// <param name="input">The checkpoint to copy.</param>
    /// <param name="replacements">New values by checkpoint key; shapes must equal the stored ones. Read while writing.</param>
    /// <param name="outputPath">The file to write; must not be the input.</param>
    /// <param name="floatDType">When set, every floating-point tensor is written in this dtype (unchanged ones are
    /// converted too and so are no longer bit-identical); otherwise each keeps its stored dtype.</param>
    /// <param name="cancellationToken">Checked before each tensor; a cancelled write leaves no file behind.</param>
    /// <exception cref="LcmLoraInputException">Unknown keys, a shape mismatch, writing over the input, or float8 output.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static void Write(SafeTensorsFile input, IReadOnlyDictionary<string, Tensor> replacements, string outputPath, SafeTensorDType? floatDType = null,
        CancellationToken cancellationToken = default)
    {
        if (string.Equals(Path.GetFullPath(outputPath), Path.GetFullPath(input.FilePath), StringComparison.Ordinal))
            throw new LcmLoraInputException($"{outputPath}: the output would overwrite the input checkpoint it is copied from.");
        var unknown = replacements.Keys.Where(k => !input.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new LcmLoraInputException($"{input.FilePath}: no tensors named {string.Join(", ", unknown.Take(10))}{(unknown.Count > 10 ? ", ..." : "")}.");
        if (floatDType is { } forced && (!IsFloat(forced) || IsFloat8(forced)))
            throw new LcmLoraInputException($"Cannot write tensors as {forced}: choose F32, F16, BF16 or F64.");

        var writer = new SafeTensorsWriter();
        foreach (var info in input.Tensors)
        {
            var dtype = floatDType is { } f && IsFloat(info.DType) ? f : info.DType;
            if (replacements.TryGetValue(info.Name, out var value))
            {
                if (!value.shape.SequenceEqual(info.Shape))
                    throw new LcmLoraInputException($"{info.Name}: new value has shape [{string.Join(", ", value.shape)}], the checkpoint {info.ShapeText}.");
                if (IsFloat8(dtype))
                    throw new LcmLoraInputException($"{info.Name}: writing float8 ({dtype}) is not supported; pass floatDType.");
                writer.Add(info.Name, dtype, info.Shape, s => WriteAs(s, value, dtype));
            }
            else if (dtype == info.DType) writer.AddRaw(input, info.Name);
            else
            {
                var name = info.Name;
                writer.Add(name, dtype, info.Shape, s =>
                {
                    using var t = input.Read(name);
                    WriteAs(s, t, dtype);
                });
            }
        }
        writer.Save(outputPath, input.Metadata, cancellationToken);
    }

    /// <summary>
    /// Turns changed parameters of one component into checkpoint tensors through its <see cref="WeightMap"/> (our
    /// name to file key): transposed and 1x1-conv entries are converted back, and row-stacked keys (open_clip's
    /// <c>in_proj_weight</c> = q, k, v) are rebuilt from all their parts, changed or not. Dispose the returned
    /// tensors after writing; single-part values share storage with the parameters, stacked ones are new.
    /// </summary>
    /// <param name="parameters">All of the component's parameters (live tensors).</param>
    /// <param name="changed">Names of the parameters that changed (e.g. <c>LoraAdapterSet.FusedParameters</c>).</param>
    /// <param name="map">Our names to checkpoint keys.</param>
    public static Dictionary<string, Tensor> ToFileKeys(IReadOnlyDictionary<string, Tensor> parameters, IEnumerable<string> changed, WeightMap map)
    {
        var partsByKey = map.Entries.GroupBy(kv => kv.Value.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(kv => kv.Value.Part).ToList(), StringComparer.Ordinal);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var name in changed)
            {
                if (!map.Entries.TryGetValue(name, out var r)) throw new ArgumentException($"'{name}' has no entry in the weight map.", nameof(changed));
                if (result.ContainsKey(r.Key)) continue;
                if (r.Parts == 1)
                {
                    result[r.Key] = ToStored(Parameter(parameters, name), r);
                    continue;
                }
                var parts = partsByKey[r.Key];
                if (!parts.Select(p => p.Value.Part).SequenceEqual(Enumerable.Range(0, r.Parts)))
                    throw new ArgumentException($"'{r.Key}' is stacked from {r.Parts} parts but the map has parts {string.Join(", ", parts.Select(p => p.Value.Part))}.", nameof(map));
                using var scope = NewDisposeScope();
                result[r.Key] = cat(parts.Select(p => ToStored(Parameter(parameters, p.Key), p.Value)).ToArray(), 0).MoveToOuterDisposeScope();
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    private static Tensor Parameter(IReadOnlyDictionary<string, Tensor> parameters, string name) =>
        parameters.TryGetValue(name, out var t) ? t : throw new ArgumentException($"No parameter named '{name}'.", nameof(parameters));

    private static Tensor ToStored(Tensor value, TensorRef r) => r.Transform switch
    {
        TensorTransform.Transpose => value.detach().t(),
        TensorTransform.SqueezeConv1x1 => value.detach().reshape(value.shape[0], value.shape[1], 1, 1),
        _ => value.detach(),
    };

    private static void WriteAs(Stream stream, Tensor value, SafeTensorDType dtype)
    {
        using var scope = NewDisposeScope();
        var t = value.detach().to(dtype.ToScalarType(), CPU).contiguous();
        if (t.numel() > 0) stream.Write(t.bytes);
    }

    private static bool IsFloat(SafeTensorDType t) =>
        t is SafeTensorDType.F64 or SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2;

    private static bool IsFloat8(SafeTensorDType t) => t is SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2;
}
