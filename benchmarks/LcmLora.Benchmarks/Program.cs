using BenchmarkDotNet.Running;
using LcmLora.Benchmarks;

if (args.Length > 0 && args[0] == "make-weights")
{
    Console.WriteLine(RandomSdxlCheckpoint.EnsureSingleFile());
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(RandomSdxlCheckpoint).Assembly).Run(args);
