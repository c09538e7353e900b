using BenchmarkDotNet.Running;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Weights;

// Commands besides BenchmarkDotNet's own arguments (see docs/performance.md):
//   make-weights          write the random full-size SDXL checkpoint into the cache (once)
//   flops                 print the FLOP counts of the benchmarked work
switch (args.FirstOrDefault())
{
    case "make-weights":
        Console.WriteLine(RandomSdxlCheckpoint.EnsureSingleFile());
        return 0;
    case "flops":
        FlopTable.Print(Console.Out);
        return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(RandomSdxlCheckpoint).Assembly).Run(args);
return 0;
