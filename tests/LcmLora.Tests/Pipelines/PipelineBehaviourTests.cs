using LcmLora.IO;
using LcmLora.Imaging;
using LcmLora.Pipelines;
using LcmLora.Schedulers;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Pipelines;

[Trait("Category", "parity")]
public class PipelineBehaviourTests
{
    private static GenerationRequest SeedPath => new() { Prompt = "a lighthouse on a cliff at sunset", Seed = 2024, Width = 48, Height = 32, ReturnTensors = true };

    private static torch.Tensor ExpectedSeedPathImage()
    {
        using var data = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", "seed_path", "data.safetensors"));
        return data.Read("image");
    }

    private sealed class CancelAt(int step, CancellationTokenSource cts) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value)
        {
            if (value.Step == step) cts.Cancel();
        }
    }

    [Fact]
    public void CancelledGenerationLeaksNothingAndLeavesThePipelineUsable()
    {
        var pipeline = TinyPipelines.Folder;
        using (var warm = pipeline.Generate(SeedPath)) { }
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Generate(SeedPath, new CancelAt(2, cts), cts.Token));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        using var result = pipeline.Generate(SeedPath);
        using var expected = ExpectedSeedPathImage();
        TensorAssert.CloseAbs(expected, result.ImageTensor!, 1e-3);
    }

    [Fact]
    public void NativeMemoryIsFlatAcrossGenerations()
    {
        var pipeline = TinyPipelines.Folder;
        using (pipeline.Generate(SeedPath)) { }
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 5; i++)
            using (pipeline.Generate(SeedPath with { ReturnTensors = false })) { }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void ConcurrentCallsAreSerializedAndGiveTheSequentialResults()
    {
        var pipeline = TinyPipelines.Folder;
        var results = new GenerationResult[4];
        Parallel.For(0, 4, i => results[i] = pipeline.Generate(SeedPath with { Seed = (ulong)(2024 + i % 2) }));
        using var expected = ExpectedSeedPathImage();
        TensorAssert.CloseAbs(expected, results[0].ImageTensor!, 1e-3);
        TensorAssert.Identical(results[0].ImageTensor!, results[2].ImageTensor!);
        TensorAssert.Identical(results[1].ImageTensor!, results[3].ImageTensor!);
        foreach (var r in results) r.Dispose();
    }

    [Fact]
    public void ProgressReportsEveryStepWithItsTimestep()
    {
        var seen = new List<GenerationProgress>();
        using var result = TinyPipelines.Folder.Generate(SeedPath, new SyncProgress<GenerationProgress>(seen.Add));
        Assert.Equal(new[] { 1, 2, 3, 4 }, seen.Select(s => s.Step));
        Assert.Equal(new float[] { 999, 759, 499, 259 }, seen.Select(s => s.Timestep));
        Assert.All(seen, s => Assert.Null(s.Preview));
    }

    [Fact]
    public void BatchGivesDistinctImagesAndValidationRejectsBadRequests()
    {
        using var batch = TinyPipelines.Folder.Generate(SeedPath with { BatchSize = 2 });
        Assert.Equal(2, batch.Images.Count);
        Assert.NotEqual(batch.Images[0].Pixels, batch.Images[1].Pixels);
        Assert.Throws<InvalidRequestException>(() => TinyPipelines.Folder.Generate(SeedPath with { Width = 50 }));
        Assert.Throws<InvalidRequestException>(() => TinyPipelines.Folder.Generate(SeedPath with { Steps = 0 }));
        Assert.ThrowsAny<LcmLoraInputException>(() => TinyPipelines.Folder.Generate(SeedPath with { Latents = torch.zeros(1, 4, 8, 8) }));
        Assert.ThrowsAny<LcmLoraInputException>(() => TinyPipelines.Folder.Generate(SeedPath with { Steps = 60 }));
    }

    [Fact]
    public void ImageToImageUsesLcmStrengthScheduleAndIsDeterministic()
    {
        var init = new RgbImage(48, 32, Enumerable.Range(0, 48 * 32 * 3).Select(i => (byte)(i * 7 % 256)).ToArray());
        var request = SeedPath with { InitImage = init, Strength = 0.5 };
        using var a = TinyPipelines.Folder.Generate(request);
        using var b = TinyPipelines.Folder.Generate(request);
        Assert.Equal(new float[] { 499, 379, 259, 139 }, a.Timesteps);
        TensorAssert.Identical(a.ImageTensor!, b.ImageTensor!);
        using var c = TinyPipelines.Folder.Generate(request with { Strength = 0.9 });
        Assert.False(TensorAssert.AreIdentical(a.ImageTensor!, c.ImageTensor!));
    }

    [Fact]
    public void EulerWithGuidanceRunsTheClassicLoop()
    {
        using var result = TinyPipelines.Folder.Generate(SeedPath with { Scheduler = new EulerDiscreteScheduler(), Steps = 6, GuidanceScale = 5, NegativePrompt = "blurry" });
        Assert.Equal(6, result.Timesteps.Count);
        Assert.True(result.ImageTensor!.isfinite().all().item<bool>());
    }

    [Fact]
    public void LongPromptsWarnWhenTruncatedAndCanBeChunked()
    {
        var longPrompt = string.Join(", ", Enumerable.Repeat("a very detailed lighthouse on a rocky cliff", 12));
        using var truncated = TinyPipelines.Folder.Generate(SeedPath with { Prompt = longPrompt });
        Assert.Contains(truncated.Warnings, w => w.Contains("truncated"));
        using var chunked = TinyPipelines.Folder.Generate(SeedPath with { Prompt = longPrompt, ChunkLongPrompts = true });
        Assert.Empty(chunked.Warnings);
        Assert.False(TensorAssert.AreIdentical(truncated.ImageTensor!, chunked.ImageTensor!));
    }

    private sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}
