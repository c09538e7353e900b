using System.Runtime.InteropServices;

namespace LcmLora.IO;

/// <summary>
/// Writes output files atomically: the bytes go to a hidden temporary file beside the target, are flushed to disk
/// (fsync), and the temporary file is renamed over the target. Readers see the old file or the complete new one,
/// never a partial one; on any failure (an exception from the writer, cancellation, a full disk) the temporary file is
/// deleted. Targets that exist but are not regular files (directories, device nodes, FIFOs, sockets) are refused:
/// a rename would replace them.
/// </summary>
public static class OutputFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>.</summary>
    /// <exception cref="LcmLoraInputException">The target exists and is not a regular file.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the rename; nothing was written.</exception>
    public static void Write(string path, Action<Stream> write, CancellationToken cancellationToken = default)
    {
        var full = Path.GetFullPath(path);
        CheckTarget(full);
        var temp = TemporarySibling(full, "partial");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>A unique hidden name in the folder of <paramref name="fullPath"/>: <c>.NAME.GUID.SUFFIX</c>.</summary>
    internal static string TemporarySibling(string fullPath, string suffix) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.{suffix}");

    /// <summary>Refuses a target that exists and is not a regular file (a symbolic link is judged by what it points to).</summary>
    /// <exception cref="LcmLoraInputException">A directory, device node, FIFO or socket.</exception>
    public static void CheckTarget(string path)
    {
        if (Directory.Exists(path)) throw new LcmLoraInputException($"{path}: is a directory; give a file name.");
        if (!File.Exists(path)) return;
        if (FileKind(path) is { } kind && kind != RegularFile)
            throw new LcmLoraInputException($"{path}: is not a regular file (a device, FIFO or socket); choose a new file name.");
    }

    private const int FileTypeMask = 0xF000;
    private const int RegularFile = 0x8000;

    /// <summary>The S_IFMT bits of the file's mode, or null where they cannot be read (Windows has no device nodes
    /// in the file system).</summary>
    private static int? FileKind(string path)
    {
        if (OperatingSystem.IsWindows()) return null;
        // The .NET runtime's own stat wrapper (libSystem.Native, shipped with every .NET on Unix): its status record
        // starts with two int32 fields, flags then mode, the same on every Unix platform. The buffer is larger than
        // the record so later fields never matter. .NET exposes no file type beyond directory/file otherwise.
        var buffer = new byte[512];
        return SystemNativeStat(path, buffer) == 0 ? BitConverter.ToInt32(buffer, 4) & FileTypeMask : null;
    }

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat", CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern int SystemNativeStat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] status);

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
