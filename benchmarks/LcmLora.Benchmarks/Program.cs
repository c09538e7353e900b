using System.Globalization;
using BenchmarkDotNet.Running;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Loading;
using LcmLora.Benchmarks.Memory;
using LcmLora.Benchmarks.Setup;
using LcmLora.Benchmarks.Weights;

// Commands besides BenchmarkDotNet's own arguments (see docs/performance.md):
//   make-weights                     write the random full-size SDXL checkpoint and LCM-LoRA-shaped LoRA into the cache (once)
//   flops                            print the FLOP counts of the benchmarked work
//   load-once [MODEL] [DTYPE]        load the checkpoint in this process (fp32, bf16, fp16); print time and peak RSS
//   load-fresh [N] [MODEL] [DTYPE]   load-once in N fresh child processes, summarized
//   precision-compare [SIZES]        fp32 against bf16 in one process: mm rates, UNet step per size, VAE decode 512, error
//   generate-once DTYPE SIZE [MODE]  load + one 4-step generation in this process (MODE plain|inpaint|controlnet): stage times, anonymous peak
//   generate-fresh DTYPES SIZES [MODES]  generate-once in a fresh child process per dtype, size and mode
//   check-memory [MODEL] [STEPS] [B] [WARMUP]  RSS over STEPS UNet steps, verdict after WARMUP: PASS/FAIL
//   lora-ab [N]                      plain vs LoRA-fused UNet step, alternated N times in one process
//   fuse-compare [DTYPES] [N]        N fuse/unfuse rounds of the rank-64 LCM-LoRA layout per compute dtype (default fp32,bf16)
//   breakdown unet|vae|text [B]      time every distinct op shape of a full-size pass in isolation
switch (args.FirstOrDefault())
{
    case "make-weights":
        Console.WriteLine(RandomSdxlCheckpoint.EnsureSingleFile());
        Console.WriteLine(RandomLoraFile.EnsureLcmLoraShaped());
        return 0;
    case "flops":
        FlopTable.Print(Console.Out);
        return 0;
    case "load-once":
        return LoadCommand.Once(args.Length > 1 ? args[1] : BenchModels.Full,
            args.Length > 2 ? LcmLora.Runtime.ComputePrecisions.Choose(LcmLora.Runtime.ComputePrecisions.Parse(args[2])).DType : TorchSharp.torch.ScalarType.Float32);
    case "load-fresh":
        return LoadCommand.Fresh(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3, args.Length > 2 ? args[2] : BenchModels.Full,
            args.Length > 3 ? args[3] : "fp32");
    case "precision-compare":
        return LcmLora.Benchmarks.Precision.PrecisionCommand.Compare(args);
    case "generate-once":
        return LcmLora.Benchmarks.Precision.PrecisionCommand.GenerateOnce(args);
    case "generate-fresh":
        return LcmLora.Benchmarks.Precision.PrecisionCommand.GenerateFresh(args);
    case "lora-ab":
        return LcmLora.Benchmarks.Lora.LoraAbCommand.Run(args);
    case "fuse-compare":
        return LcmLora.Benchmarks.Lora.FuseCompareCommand.Run(args);
    case "breakdown":
        return OpBreakdown.Run(args);
    case "check-memory":
        return MemoryCheckCommand.Run(args);
}
var summaries = BenchmarkSwitcher.FromAssembly(typeof(RandomSdxlCheckpoint).Assembly).Run(args).ToList();
FloorReport.Print(summaries);
return 0;
