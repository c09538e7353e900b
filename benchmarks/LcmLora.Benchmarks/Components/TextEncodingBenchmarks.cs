using BenchmarkDotNet.Attributes;
using LcmLora.Benchmarks.Flops;
using LcmLora.Benchmarks.Jobs;
using LcmLora.Benchmarks.Setup;
using LcmLora.Models;
using LcmLora.Models.Clip;
using LcmLora.Pipelines;
using LcmLora.Text;
using TorchSharp;

namespace LcmLora.Benchmarks.Components;

/// <summary>
/// Encoding one prompt with both text encoders through <see cref="SdxlPromptEncoder"/> (tokenization included):
/// CLIP ViT-L to its penultimate layer, OpenCLIP bigG through every layer plus the pooled projection.
/// </summary>
[Config(typeof(ShortJobConfig))]
public class TextEncodingBenchmarks
{
    /// <summary>The prompt.</summary>
    public const string Prompt = "a photograph of an astronaut riding a horse on the moon, detailed, 8k";

    private ClipTextModel _encoder = null!;
    private ClipTextModel _encoder2 = null!;
    private SdxlPromptEncoder _promptEncoder = null!;

    /// <summary>Which model.</summary>
    [ParamsSource(typeof(BenchModels), nameof(BenchModels.Selected))]
    public string Model { get; set; } = BenchModels.Full;

    /// <summary>Loads both text encoders only.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchModels.Init();
        using var checkpoint = BenchModels.Open(Model);
        _encoder = BenchModels.LoadComponent<ClipTextModel>(checkpoint, ModelComponent.TextEncoder);
        _encoder2 = BenchModels.LoadComponent<ClipTextModel>(checkpoint, ModelComponent.TextEncoder2);
        var (tokenizer, tokenizer2) = SdxlTokenizers.BuiltIn();
        _promptEncoder = new SdxlPromptEncoder(tokenizer, _encoder, tokenizer2, _encoder2);
    }

    /// <summary>One prompt through both encoders.</summary>
    [Benchmark, Flops(Work.TextEncoders)]
    public void EncodePromptBothEncoders()
    {
        using var _ = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        _promptEncoder.Encode([Prompt], clipSkip: null, chunked: false, torch.CPU);
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _encoder?.Dispose();
        _encoder2?.Dispose();
    }
}
