using LcmLora.Pipelines;

namespace LcmLora.Tests.Pipelines;

/// <summary>The tiny fixture SDXL loaded once per test run (both layouts), shared by the pipeline tests.</summary>
public static class TinyPipelines
{
    private static readonly Lazy<SdxlPipeline> FolderPipeline = new(() => SdxlPipeline.Load(Fixtures.Path("tiny-sdxl", "diffusers")));
    private static readonly Lazy<SdxlPipeline> SingleFilePipeline = new(() => SdxlPipeline.Load(Fixtures.TinySgm, new PipelineOptions { ConfigDir = Fixtures.TinyConfigDir }));

    /// <summary>Loaded from the diffusers folder.</summary>
    public static SdxlPipeline Folder => FolderPipeline.Value;

    /// <summary>Loaded from the single file.</summary>
    public static SdxlPipeline SingleFile => SingleFilePipeline.Value;

    /// <summary>One of the two.</summary>
    public static SdxlPipeline Get(bool singleFile) => singleFile ? SingleFile : Folder;
}
