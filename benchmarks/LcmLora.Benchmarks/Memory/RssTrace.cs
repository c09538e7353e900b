using System.Globalization;
using LcmLora.Benchmarks.Diagnosers;

namespace LcmLora.Benchmarks.Memory;

/// <summary>
/// A series of resident-memory samples and the flatness verdict: native memory is flat when RSS after the warm-up
/// samples grows by no more than 8 MiB plus 0.2% of the first counted sample (allocator noise), however many steps ran.
/// </summary>
public sealed class RssTrace
{
    private readonly List<(long Steps, long Rss)> _samples = [];

    /// <summary>Records RSS now, after <paramref name="steps"/> steps in total.</summary>
    public void Sample(long steps) => _samples.Add((steps, ProcStatus.Self().RssBytes));

    /// <summary>The samples.</summary>
    public IReadOnlyList<(long Steps, long Rss)> Samples => _samples;

    /// <summary>
    /// Writes the series and the verdict, ignoring the first <paramref name="warmupSamples"/> samples (allocator
    /// caches and one-time buffers fill during the first steps). Returns true when flat.
    /// </summary>
    public bool Report(TextWriter output, string what, int warmupSamples)
    {
        var counted = _samples.Skip(warmupSamples).ToList();
        if (counted.Count < 2)
        {
            output.WriteLine($"NATIVE MEMORY CHECK {what}: not enough samples ({_samples.Count}).");
            return false;
        }
        var growth = counted[^1].Rss - counted[0].Rss;
        var peak = counted.Max(s => s.Rss) - counted[0].Rss;
        var steps = counted[^1].Steps - counted[0].Steps;
        var tolerance = (8L << 20) + counted[0].Rss / 500;
        var flat = growth <= tolerance;
        output.WriteLine($"NATIVE MEMORY CHECK {what}");
        output.WriteLine("  RSS samples (steps: RSS): " + string.Join(", ", _samples.Select(s => $"{s.Steps}: {Mib(s.Rss)}")));
        output.WriteLine($"  after warm-up ({counted[0].Steps} steps): {Mib(counted[0].Rss)}; growth over the next {steps} steps: {Mib(growth)} " +
            $"(max excursion {Mib(peak)}, {(steps > 0 ? (growth / (double)steps / 1024).ToString("0.0", CultureInfo.InvariantCulture) : "n/a")} KiB/step); " +
            $"tolerance {Mib(tolerance)} -> {(flat ? "PASS" : "FAIL")}");
        return flat;
    }

    private static string Mib(long bytes) => (bytes / (double)(1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
}
