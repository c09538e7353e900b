using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace LcmLora.Benchmarks.Flops;

/// <summary>
/// Columns from the FLOP count of a benchmark's <see cref="Work"/>: TFLOP per operation, and the achieved rate
/// (FLOPs / mean time) in GFLOP/s.
/// </summary>
public sealed class FlopColumn : IColumn
{
    /// <summary>TFLOP per operation.</summary>
    public static readonly IColumn TeraFlops = new FlopColumn(false);

    /// <summary>Achieved GFLOP/s.</summary>
    public static readonly IColumn Rate = new FlopColumn(true);

    private readonly bool _rate;

    private FlopColumn(bool rate) => _rate = rate;

    /// <inheritdoc/>
    public string Id => _rate ? "FlopRate" : "TeraFlop";

    /// <inheritdoc/>
    public string ColumnName => _rate ? "GFLOP/s" : "TFLOP";

    /// <inheritdoc/>
    public bool AlwaysShow => false;

    /// <inheritdoc/>
    public ColumnCategory Category => ColumnCategory.Custom;

    /// <inheritdoc/>
    public int PriorityInCategory => _rate ? 1 : 0;

    /// <inheritdoc/>
    public bool IsNumeric => true;

    /// <inheritdoc/>
    public UnitType UnitType => UnitType.Dimensionless;

    /// <inheritdoc/>
    public string Legend => _rate
        ? "Achieved rate: counted FLOPs / mean time (matrix products only, see docs/performance.md)"
        : "Counted FLOPs per operation (convs, linears, attention products) in units of 10^12";

    /// <inheritdoc/>
    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(b => FlopsAttribute.Of(b) is not null);

    /// <inheritdoc/>
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (WorkOps.Of(benchmarkCase) is not { } ops) return "-";
        var flops = FlopCounter.Total(ops);
        if (!_rate) return (flops / 1e12).ToString("0.0000", CultureInfo.InvariantCulture);
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return mean is double ns && ns > 0 ? (flops / ns).ToString("0.0", CultureInfo.InvariantCulture) : "-";
    }
}
