using System.Globalization;

namespace LcmLora.Benchmarks.Diagnosers;

/// <summary>
/// Resident memory of a Linux process from <c>/proc/PID/status</c>: what libtorch allocates is invisible to the .NET
/// heap, so RSS (VmRSS) and its high-water mark (VmHWM) are the honest native-memory figures.
/// </summary>
/// <param name="RssBytes">VmRSS: resident memory, anonymous plus file-backed (mapped checkpoint pages count here).</param>
/// <param name="PeakRssBytes">VmHWM: the peak of VmRSS.</param>
/// <param name="AnonBytes">RssAnon: resident anonymous memory (allocations: weights, activations).</param>
/// <param name="FileBytes">RssFile: resident file-backed pages (the memory-mapped checkpoint; reclaimable page cache).</param>
public readonly record struct ProcStatus(long RssBytes, long PeakRssBytes, long AnonBytes = -1, long FileBytes = -1)
{
    /// <summary>This process.</summary>
    public static ProcStatus Self() => Read("self");

    /// <summary>Another process (the benchmark child, read from the BenchmarkDotNet host).</summary>
    public static ProcStatus Of(int pid) => Read(pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>True where /proc/self/status exists (Linux).</summary>
    public static bool Available => File.Exists("/proc/self/status");

    /// <summary>
    /// Resets the peak (VmHWM) to the current RSS by writing 5 to <c>/proc/PID/clear_refs</c> (Linux 4.0+). Returns
    /// false where that is not permitted.
    /// </summary>
    public static bool ResetPeak(string pid = "self")
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static ProcStatus Read(string pid)
    {
        if (!Available) return new ProcStatus(-1, -1);
        long rss = -1, hwm = -1, anon = -1, file = -1;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kilobytes(line);
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kilobytes(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kilobytes(line);
        }
        return new ProcStatus(rss, hwm, anon, file);
    }

    private static long Kilobytes(string line)
    {
        // "VmRSS:\t  123456 kB": tab after the colon, spaces only as padding (none from 8 digits on).
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>Bytes as GiB with two decimals (MiB below 1 GiB).</summary>
    public static string Format(long bytes) =>
        bytes < 0 ? "n/a"
        : Math.Abs(bytes) >= 1L << 30 ? (bytes / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    /// <inheritdoc/>
    public override string ToString() => $"RSS {Format(RssBytes)}, peak {Format(PeakRssBytes)}";
}
