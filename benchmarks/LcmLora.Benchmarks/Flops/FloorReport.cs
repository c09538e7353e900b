using System.Globalization;
using BenchmarkDotNet.Reports;

namespace LcmLora.Benchmarks.Flops;

/// <summary>
/// After a run: every FLOP-counted full-size benchmark (and the machine kernels) against the floor set by this machine's sgemm rate measured in the same
/// run (<c>MatmulRateBenchmarks</c>): floor = counted FLOPs / sgemm rate, and time / floor. Written to the console and
/// to BenchmarkDotNet.Artifacts/results/floors.md.
/// </summary>
public static class FloorReport
{
    /// <summary>Prints the table if the run measured the sgemm rate; otherwise says how to get it.</summary>
    public static void Print(IReadOnlyList<Summary> summaries)
    {
        var reports = summaries.SelectMany(s => s.Reports).Where(r => r.ResultStatistics is not null).ToList();
        var counted = reports.Select(r => (Report: r, Work: FlopsAttribute.Of(r.BenchmarkCase), Ops: WorkOps.Of(r.BenchmarkCase)))
            .Where(x => x.Work is not null && x.Ops is not null && !IsTiny(x.Report.BenchmarkCase)).ToList();
        if (counted.Count == 0) return;
        var sgemm = counted.FirstOrDefault(x => x.Work == Work.Sgemm4096);
        if (sgemm.Report is null)
        {
            Console.WriteLine("// Floors: include *MatmulRate* in the filter to compare with this machine's sgemm rate.");
            return;
        }
        var rate = FlopCounter.Total(sgemm.Ops!) / sgemm.Report.ResultStatistics!.Mean; // GFLOP/s (FLOP per ns)
        var lines = new List<string>
        {
            $"Floors: counted FLOPs / sgemm rate {F(rate, "0.0")} GFLOP/s (torch.mm 4096x4096, this run)",
            "",
            "| Benchmark | Parameters | Mean | TFLOP | GFLOP/s | Floor | Mean / floor |",
            "|---|---|---:|---:|---:|---:|---:|",
        };
        foreach (var (report, work, ops) in counted)
        {
            var flops = FlopCounter.Total(ops!);
            var mean = report.ResultStatistics!.Mean;
            var floor = flops / rate;
            var bc = report.BenchmarkCase;
            lines.Add($"| {bc.Descriptor.Type.Name}.{bc.Descriptor.WorkloadMethod.Name} | {bc.Parameters.DisplayInfo} | {Time(mean)} | " +
                $"{F(flops / 1e12, "0.0000")} | {F(flops / mean, "0.0")} | {Time(floor)} | {F(mean / floor, "0.00")} |");
        }
        foreach (var line in lines) Console.WriteLine(line);
        var folder = Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts", "results");
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, "floors.md"), lines);
    }

    private static bool IsTiny(BenchmarkDotNet.Running.BenchmarkCase bc) =>
        (bc.Parameters.Items.FirstOrDefault(p => p.Name == "Model")?.Value?.ToString() ?? Setup.BenchModelAttribute.Of(bc.Descriptor.Type)) == Setup.BenchModels.Tiny;

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    private static string Time(double ns) => ns >= 1e9 ? F(ns / 1e9, "0.000") + " s" : F(ns / 1e6, "0.00") + " ms";
}
