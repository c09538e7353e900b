using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Diagnosers;

namespace LcmLora.Benchmarks.Jobs;

/// <summary>
/// For operations that take seconds: one launch, one warm-up and three measured iterations of one invocation each
/// (RunStrategy.Monitoring: no pilot, no overhead evaluation), with min/max beside the mean, managed allocations
/// (MemoryDiagnoser), native memory (<see cref="NativeMemoryDiagnoser"/>) and the FLOP columns.
/// </summary>
public sealed class ShortJobConfig : ManualConfig
{
    /// <summary>Measured iterations per benchmark.</summary>
    public const int Iterations = 3;

    /// <summary>Creates the config.</summary>
    public ShortJobConfig()
    {
        AddJob(Job.Default.WithStrategy(RunStrategy.Monitoring).WithLaunchCount(1).WithWarmupCount(1)
            .WithIterationCount(Iterations).WithId("Short"));
        BenchColumns.AddTo(this);
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}

/// <summary>
/// For operations that take minutes (the 25-step Euler loop with CFG at full size): a single measured invocation,
/// no warm-up iteration (benchmarks using it warm up in their global setup), no managed-memory diagnoser (it would
/// run the workload once more).
/// </summary>
public sealed class SingleShotConfig : ManualConfig
{
    /// <summary>Creates the config.</summary>
    public SingleShotConfig()
    {
        AddJob(Job.Default.WithStrategy(RunStrategy.ColdStart).WithLaunchCount(1).WithWarmupCount(0)
            .WithIterationCount(1).WithId("SingleShot"));
        BenchColumns.AddTo(this);
    }
}

/// <summary>For sub-second kernels (machine rates): BenchmarkDotNet's throughput engine with a short run.</summary>
public sealed class KernelJobConfig : ManualConfig
{
    /// <summary>Creates the config.</summary>
    public KernelJobConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5).WithId("Kernel"));
        BenchColumns.AddTo(this);
    }
}

/// <summary>The columns and native-memory diagnoser every config here shares.</summary>
internal static class BenchColumns
{
    public static void AddTo(ManualConfig config)
    {
        config.AddColumn(StatisticColumn.Min, StatisticColumn.Max);
        config.AddColumn(FlopColumn.TeraFlops, FlopColumn.Rate);
        config.AddDiagnoser(NativeMemoryDiagnoser.Default, OtherCpuDiagnoser.Default);
        config.WithSummaryStyle(BenchmarkDotNet.Reports.SummaryStyle.Default.WithSizeUnit(Perfolizer.Metrology.SizeUnit.MB));
    }
}
