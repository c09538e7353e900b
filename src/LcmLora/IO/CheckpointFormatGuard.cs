namespace LcmLora.IO;

/// <summary>
/// Refuses pickle-based checkpoints (<c>.ckpt</c>, <c>.pt</c>, <c>.pth</c>, <c>.bin</c>, or any file that starts
/// like a pickle or a PyTorch zip archive). Unpickling runs arbitrary code, so LcmLora never does it.
/// </summary>
internal static class CheckpointFormatGuard
{
    private static readonly string[] PickleExtensions = [".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle"];

    private const string Advice =
        "LcmLora never unpickles files, because loading a pickle can run arbitrary code. Convert it to .safetensors " +
        "first (for example with the safetensors or diffusers conversion scripts) and load that.";

    /// <summary>Throws when the file name says it is a pickle checkpoint.</summary>
    /// <exception cref="UnsupportedCheckpointFormatException">It is.</exception>
    public static void ThrowIfPickle(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (PickleExtensions.Contains(ext))
            throw new UnsupportedCheckpointFormatException(path, $"'{ext}' is a pickle-based PyTorch checkpoint. {Advice}");
    }

    /// <summary>Throws when the first bytes are a pickle stream or a PyTorch zip archive.</summary>
    public static void ThrowIfPickleContent(Stream stream, string path)
    {
        Span<byte> head = stackalloc byte[9];
        var n = stream.ReadAtLeast(head, 9, throwOnEndOfStream: false);
        if (n == 9 && head[8] == (byte)'{') return; // a safetensors header starts here; its length may begin with 0x80
        if (n >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5)
            throw new UnsupportedCheckpointFormatException(path, $"the file is a pickle stream, not safetensors. {Advice}");
        if (n >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4)
            throw new UnsupportedCheckpointFormatException(path, $"the file is a zip archive (a PyTorch checkpoint), not safetensors. {Advice}");
    }
}
