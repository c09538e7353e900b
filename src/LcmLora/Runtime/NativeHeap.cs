using System.Runtime.InteropServices;

namespace LcmLora.Runtime;

/// <summary>
/// Returns memory that the C allocator holds free to the operating system. libtorch allocates CPU tensors with
/// malloc; glibc keeps freed blocks below its (self-raising, up to 32 MiB) mmap threshold in its heaps, so a
/// denoising loop's freed activations stay resident through the VAE decode that follows. The pipeline calls
/// <see cref="Trim"/> between phases (after loading and after the loop): measured on full-size SDXL, see
/// docs/performance.md. Hand-written P/Invoke because .NET exposes no allocator control.
/// </summary>
internal static class NativeHeap
{
    private static bool _unavailable;

    /// <summary>Calls glibc's <c>malloc_trim(0)</c>; does nothing where that is not available (Windows, macOS, musl).</summary>
    /// <returns>True when memory was returned to the system.</returns>
    public static bool Trim()
    {
        if (_unavailable || !OperatingSystem.IsLinux()) return false;
        try
        {
            return malloc_trim(0) != 0;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _unavailable = true;
            return false;
        }
    }

#pragma warning disable IDE1006, SYSLIB1054 // the C name; a plain DllImport keeps this free of source generation
    [DllImport("libc.so.6")] private static extern int malloc_trim(nuint pad);
#pragma warning restore IDE1006, SYSLIB1054
}
