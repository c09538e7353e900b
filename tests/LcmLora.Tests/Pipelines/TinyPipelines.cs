using LcmLora.Pipelines;
using LcmLora.Runtime;

namespace LcmLora.Tests.Pipelines;

/// <summary>The tiny fixture SDXL loaded once per test run (both layouts), shared by the pipeline tests.</summary>
public static class TinyPipelines
{
    /// <summary>Options that pin float32 (the default, Auto, picks bf16 on CPUs with native bf16): parity with the fp32 fixtures.</summary>
    public static PipelineOptions Fp32 { get; } = new() { Precision = ComputePrecision.Float32 };

    private static readonly Lazy<SdxlPipeline> FolderPipeline = new(() => SdxlPipeline.Load(Fixtures.Path("tiny-sdxl", "diffusers"), Fp32));
    private static readonly Lazy<SdxlPipeline> SingleFilePipeline = new(() => SdxlPipeline.Load(Fixtures.TinySgm, Fp32 with { ConfigDir = Fixtures.TinyConfigDir }));

    /// <summary>Loaded from the diffusers folder.</summary>
    public static SdxlPipeline Folder => FolderPipeline.Value;

    /// <summary>Loaded from the single file.</summary>
    public static SdxlPipeline SingleFile => SingleFilePipeline.Value;

    /// <summary>One of the two.</summary>
    public static SdxlPipeline Get(bool singleFile) => singleFile ? SingleFile : Folder;
}
