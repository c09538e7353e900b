using BenchmarkDotNet.Analysers;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;

namespace LcmLora.Benchmarks.Diagnosers;

/// <summary>
/// What the benchmark diagnosers here share: no exporters or analysers, no extra run, and a <see cref="Handle"/> that
/// never lets an exception reach BenchmarkDotNet's broker (it would break the pipe to the benchmark process).
/// </summary>
public abstract class SafeDiagnoser
{
    /// <inheritdoc cref="IDiagnoser.Ids"/>
    public IEnumerable<string> Ids => [GetType().Name];

    /// <inheritdoc cref="IDiagnoser.Exporters"/>
    public IEnumerable<IExporter> Exporters => [];

    /// <inheritdoc cref="IDiagnoser.Analysers"/>
    public IEnumerable<IAnalyser> Analysers => [];

    /// <inheritdoc cref="IDiagnoser.DisplayResults"/>
    public void DisplayResults(ILogger logger) { }

    /// <inheritdoc cref="IDiagnoser.GetRunMode"/>
    public RunMode GetRunMode(BenchmarkCase benchmarkCase) => RunMode.NoOverhead;

    /// <inheritdoc cref="IDiagnoser.Handle"/>
    public void Handle(HostSignal signal, DiagnoserActionParameters parameters)
    {
        try
        {
            HandleCore(signal, parameters);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"// {GetType().Name}: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>The diagnoser's own handling of a host signal.</summary>
    protected abstract void HandleCore(HostSignal signal, DiagnoserActionParameters parameters);
}
