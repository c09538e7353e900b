using System.Collections.Concurrent;
using BenchmarkDotNet.Analysers;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Validators;

namespace LcmLora.Benchmarks.Diagnosers;

/// <summary>
/// Reports the benchmark process's resident memory (libtorch's allocations included), read by the host from
/// <c>/proc/CHILD/status</c> around the measured iterations:
/// <list type="bullet">
/// <item>Setup peak: VmHWM before the measured iterations (global setup such as model loading, jitting, warm-up).</item>
/// <item>Run RSS: VmRSS when the measured iterations start.</item>
/// <item>Run peak: VmHWM during the measured iterations (the peak is reset when they start).</item>
/// <item>Run ΔRSS: VmRSS after minus before the measured iterations (native leaks show here).</item>
/// <item>Anon RSS and Run peak anon: the same without file-backed pages (RssAnon; a memory-mapped checkpoint's pages
/// count in VmRSS but are reclaimable page cache), the peak polled every 10 ms during the measured iterations.</item>
/// </list>
/// </summary>
public sealed class NativeMemoryDiagnoser : SafeDiagnoser, IDiagnoser
{
    /// <summary>The shared instance.</summary>
    public static readonly NativeMemoryDiagnoser Default = new();

    private readonly ConcurrentDictionary<BenchmarkCase, Sample> _samples = new();

    private sealed class Sample
    {
        public ProcStatus Before;
        public ProcStatus After;
        public bool PeakWasReset;
        public long PeakAnon = -1;
        public CancellationTokenSource? StopSampling;
        public Task? Sampler;
    }

    /// <inheritdoc/>
    protected override void HandleCore(HostSignal signal, DiagnoserActionParameters parameters)
    {
        if (signal is not (HostSignal.BeforeActualRun or HostSignal.AfterActualRun) || !ProcStatus.Available || parameters.Process is null) return;
        int pid;
        try
        {
            pid = parameters.Process.Id;
        }
        catch (InvalidOperationException)
        {
            return;
        }
        var sample = _samples.GetOrAdd(parameters.BenchmarkCase, _ => new Sample());
        switch (signal)
        {
            case HostSignal.BeforeActualRun:
                sample.Before = ProcStatus.Of(pid);
                sample.PeakWasReset = ProcStatus.ResetPeak(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
                sample.PeakAnon = sample.Before.AnonBytes;
                sample.StopSampling = new CancellationTokenSource();
                var token = sample.StopSampling.Token;
                sample.Sampler = Task.Run(async () =>
                {
                    // VmHWM has no anonymous-only twin: poll RssAnon (every 10 ms) for the peak of the allocations.
                    while (!token.IsCancellationRequested)
                    {
                        try
                        {
                            sample.PeakAnon = Math.Max(sample.PeakAnon, ProcStatus.Of(pid).AnonBytes);
                        }
                        catch (Exception e) when (e is IOException or FormatException)
                        {
                            return;
                        }
                        await Task.Delay(10);
                    }
                });
                break;
            case HostSignal.AfterActualRun:
                sample.StopSampling?.Cancel();
                sample.Sampler?.Wait();
                sample.After = ProcStatus.Of(pid);
                sample.PeakAnon = Math.Max(sample.PeakAnon, sample.After.AnonBytes);
                break;
        }
    }

    /// <inheritdoc/>
    public IEnumerable<Metric> ProcessResults(DiagnoserResults results)
    {
        if (!_samples.TryGetValue(results.BenchmarkCase, out var s) || s.Before.RssBytes < 0 || s.After.RssBytes < 0) yield break;
        yield return new Metric(Descriptor.SetupPeak, s.Before.PeakRssBytes);
        yield return new Metric(Descriptor.RunRss, s.Before.RssBytes);
        if (s.PeakWasReset) yield return new Metric(Descriptor.RunPeak, s.After.PeakRssBytes);
        yield return new Metric(Descriptor.RunDelta, s.After.RssBytes - s.Before.RssBytes);
        if (s.Before.AnonBytes >= 0) yield return new Metric(Descriptor.RunAnon, s.Before.AnonBytes);
        if (s.PeakAnon >= 0) yield return new Metric(Descriptor.RunPeakAnon, s.PeakAnon);
    }

    /// <inheritdoc/>
    public IEnumerable<ValidationError> Validate(ValidationParameters validationParameters) => [];

    private sealed class Descriptor(string id, string name, string legend, int priority) : IMetricDescriptor
    {
        public static readonly Descriptor SetupPeak = new("NativeSetupPeak", "Setup peak RSS",
            "Peak resident memory of the benchmark process before the measured iterations (setup, model load, warm-up), /proc VmHWM", 0);
        public static readonly Descriptor RunRss = new("NativeRunRss", "RSS",
            "Resident memory of the benchmark process when the measured iterations start, /proc VmRSS", 1);
        public static readonly Descriptor RunPeak = new("NativeRunPeak", "Run peak RSS",
            "Peak resident memory during the measured iterations (VmHWM reset when they start)", 2);
        public static readonly Descriptor RunDelta = new("NativeRunDelta", "ΔRSS",
            "Resident memory after minus before the measured iterations (flat native memory shows ~0)", 3);

        public static readonly Descriptor RunAnon = new("NativeRunAnon", "Anon RSS",
            "Anonymous resident memory (RssAnon: allocations, without mapped file pages) when the measured iterations start", 4);
        public static readonly Descriptor RunPeakAnon = new("NativeRunPeakAnon", "Run peak anon",
            "Peak anonymous resident memory during the measured iterations (RssAnon polled every 10 ms by the host)", 5);

        public string Id => id;
        public string DisplayName => name;
        public string Legend => legend;
        public string NumberFormat => "0.##";
        public UnitType UnitType => UnitType.Size;
        public string Unit => "B";
        public bool TheGreaterTheBetter => false;
        public int PriorityInCategory => priority;
        public bool GetIsAvailable(Metric metric) => true;
    }
}
