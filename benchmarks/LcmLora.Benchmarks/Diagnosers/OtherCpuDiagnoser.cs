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
/// Reports how many cores other processes kept busy, on average, during the measured iterations (machine busy time
/// from /proc/stat minus the benchmark process's own). On a shared 2-core machine, 0.5 means the benchmark had
/// about a quarter less CPU than it asked for; read the times with that in mind.
/// </summary>
public sealed class OtherCpuDiagnoser : SafeDiagnoser, IDiagnoser
{
    /// <summary>The shared instance.</summary>
    public static readonly OtherCpuDiagnoser Default = new();

    private readonly ConcurrentDictionary<BenchmarkCase, (CpuTicks? Start, CpuTicks? End)> _samples = new();

    /// <inheritdoc/>
    protected override void HandleCore(HostSignal signal, DiagnoserActionParameters parameters)
    {
        if (signal is not (HostSignal.BeforeActualRun or HostSignal.AfterActualRun) || parameters.Process is null) return;
        int pid;
        try
        {
            pid = parameters.Process.Id;
        }
        catch (InvalidOperationException)
        {
            return;
        }
        var now = CpuTicks.Read(pid);
        _samples.AddOrUpdate(parameters.BenchmarkCase,
            _ => signal == HostSignal.BeforeActualRun ? (now, null) : (null, now),
            (_, old) => signal == HostSignal.BeforeActualRun ? (now, null) : (old.Start, now));
    }

    /// <inheritdoc/>
    public IEnumerable<Metric> ProcessResults(DiagnoserResults results)
    {
        if (_samples.TryGetValue(results.BenchmarkCase, out var s) && s.Start is { } start && s.End is { } end)
            yield return new Metric(Descriptor.Instance, CpuTicks.OtherCores(start, end));
    }

    /// <inheritdoc/>
    public IEnumerable<ValidationError> Validate(ValidationParameters validationParameters) => [];

    private sealed class Descriptor : IMetricDescriptor
    {
        public static readonly Descriptor Instance = new();

        public string Id => "OtherCpu";
        public string DisplayName => "Other CPU";
        public string Legend => "Cores kept busy by other processes during the measured iterations (average; /proc/stat minus the benchmark process)";
        public string NumberFormat => "0.00";
        public UnitType UnitType => UnitType.Dimensionless;
        public string Unit => "cores";
        public bool TheGreaterTheBetter => false;
        public int PriorityInCategory => 0;
        public bool GetIsAvailable(Metric metric) => true;
    }
}
