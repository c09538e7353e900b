using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Benchmarks.Weights;
using LcmLora.Pipelines;
using TorchSharp;

namespace LcmLora.Benchmarks.Lora;

/// <summary>
/// A rank-64 LoRA with the exact layout of the released LCM-LoRA for SDXL (788 UNet modules, random values) on the
/// full-size model, loaded as users do (<see cref="SdxlPipeline.Load"/>, whose LoRA set re-reads originals from the
/// mapped checkpoint instead of copying them): UNet step latency fused against plain (must be equal: fusing
/// changes values, not shapes), and the time to fuse and to unfuse. Unfusing is checked bit for bit in the global
/// cleanup ("UNFUSE BIT-EXACT: PASS/FAIL" in the log).
/// </summary>
[Config(typeof(ShortJobConfig)), BenchModel(BenchModels.Full)]
public class LoraBenchmarks
{
    private SdxlPipeline _pipeline = null!;
    private BenchInputs _inputs = null!;
    private torch.Tensor _timestep = null!;
    private torch.Tensor _conditioning = null!;
    private Dictionary<string, (long Bits, double Sum)>? _before;
    private int _fusedWeights;
    private int _unfuses;

    private void LoadCommon()
    {
        _pipeline = BenchPipelines.Load(BenchModelAttribute.Of(GetType()));
        _pipeline.Loras.Add("lcm", RandomLoraFile.EnsureLcmLoraShaped());
        _inputs = BenchInputs.Create(_pipeline.Models.Configs, 1);
        using var _ = torch.inference_mode();
        _timestep = torch.tensor(new[] { 999f });
        _conditioning = _pipeline.Models.Unet.ConditioningEmbedding(_inputs.Pooled, _inputs.TimeIds);
    }

    /// <summary>Loads the pipeline and the adapter (not fused).</summary>
    [GlobalSetup(Targets = [nameof(UNetStepPlain), nameof(FuseLcmLoraRank64)])]
    public void SetupUnfused() => LoadCommon();

    /// <summary>Loads the pipeline and fuses the adapter.</summary>
    [GlobalSetup(Target = nameof(UNetStepLcmLoraFused))]
    public void SetupFused()
    {
        LoadCommon();
        _pipeline.Loras.Fuse();
    }

    /// <summary>Loads, fingerprints the UNet, fuses.</summary>
    [GlobalSetup(Target = nameof(UnfuseLcmLoraRank64))]
    public void SetupForUnfuse()
    {
        LoadCommon();
        _before = WeightFingerprint.Of(_pipeline.Models.Unet);
    }

    /// <summary>UNet step (batch 1, 64x64) of the plain model.</summary>
    [Benchmark(Baseline = true), Flops(Work.UNetStep)]
    public void UNetStepPlain() => Step();

    /// <summary>UNet step with the LoRA fused.</summary>
    [Benchmark, Flops(Work.UNetStep)]
    public void UNetStepLcmLoraFused() => Step();

    /// <summary>Before each fuse: unfused state.</summary>
    [IterationSetup(Target = nameof(FuseLcmLoraRank64))]
    public void Unfused() => _pipeline.Loras.Unfuse();

    /// <summary>Fuses the 788 modules into the UNet.</summary>
    [Benchmark]
    public void FuseLcmLoraRank64() => _pipeline.Loras.Fuse();

    /// <summary>Before each unfuse: fused state.</summary>
    [IterationSetup(Target = nameof(UnfuseLcmLoraRank64))]
    public void Fused()
    {
        if (!_pipeline.Loras.IsFused) _pipeline.Loras.Fuse();
        _fusedWeights = _pipeline.Loras.FusedParameters.Values.Sum(p => p.Count);
    }

    /// <summary>Restores the 788 weights from the mapped checkpoint.</summary>
    [Benchmark]
    public void UnfuseLcmLoraRank64()
    {
        _pipeline.Loras.Unfuse();
        _unfuses++;
    }

    private void Step()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _pipeline.Models.Unet.Denoise(_inputs.Latents, _timestep, _inputs.TextStates, _conditioning);
    }

    /// <summary>Checks the unfused weights (Unfuse benchmark), frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        if (_before is not null && _pipeline is not null)
        {
            _pipeline.Loras.Unfuse();
            var diff = WeightFingerprint.Differences(_before, WeightFingerprint.Of(_pipeline.Models.Unet));
            Console.WriteLine($"UNFUSE BIT-EXACT: {(diff.Count == 0 ? "PASS" : "FAIL")} ({_before.Count} UNet parameters fingerprinted, " +
                $"{_fusedWeights} weights fused and unfused {_unfuses} times; {diff.Count} differ{(diff.Count > 0 ? ": " + string.Join(", ", diff.Take(5)) : "")})");
        }
        _conditioning?.Dispose();
        _timestep?.Dispose();
        _inputs?.Dispose();
        _pipeline?.Dispose();
    }
}
