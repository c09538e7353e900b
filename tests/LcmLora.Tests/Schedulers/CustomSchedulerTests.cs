using LcmLora.Pipelines;
using LcmLora.Schedulers;
using LcmLora.Tests.Pipelines;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Schedulers;

/// <summary>
/// A scheduler written outside the library in one file (the example of docs/schedulers.md): deterministic DDIM
/// (eta 0) on SDXL's noise table, plugged into the pipeline.
/// </summary>
public sealed class DdimScheduler : IScheduler
{
    public string Name => "ddim";
    public SchedulerConfig Config { get; } = SchedulerConfig.SdxlBase;
    public NoiseSchedule NoiseSchedule { get; } = NoiseSchedule.SdxlBase;

    public ISchedulerRun SetTimesteps(int numInferenceSteps, double strength = 1.0)
    {
        var stride = 1000 / numInferenceSteps;
        var all = Enumerable.Range(0, numInferenceSteps).Select(i => (float)(i * stride + 1)).Reverse().ToArray();
        var keep = Math.Min((int)(numInferenceSteps * strength), numInferenceSteps);
        return new Run(all[^keep..], NoiseSchedule);
    }

    private sealed class Run(float[] timesteps, NoiseSchedule schedule) : SchedulerRun(timesteps)
    {
        public override float InitNoiseSigma => 1f;

        protected override torch.Tensor ScaleModelInputAt(int index, torch.Tensor sample) => sample.alias();

        protected override SchedulerStepResult StepAt(int index, torch.Tensor eps, torch.Tensor x, torch.Generator? generator)
        {
            var a = schedule.AlphaCumprod((int)Timesteps[index]);
            var aPrev = IsLastIndex(index) ? 1.0 : schedule.AlphaCumprod((int)Timesteps[index + 1]);
            var x0 = (x - Math.Sqrt(1 - a) * eps) / Math.Sqrt(a);
            var prev = Math.Sqrt(aPrev) * x0 + Math.Sqrt(1 - aPrev) * eps;
            return new SchedulerStepResult(prev, x0);
        }

        public override torch.Tensor AddNoise(torch.Tensor original, torch.Tensor noise, float timestep)
        {
            var a = schedule.AlphaCumprod((int)timestep);
            return Math.Sqrt(a) * original + Math.Sqrt(1 - a) * noise;
        }
    }
}

[Trait("Category", "parity")]
public class CustomSchedulerTests
{
    [Fact]
    public void AOneFileSchedulerPlugsIntoThePipeline()
    {
        var request = new GenerationRequest { Prompt = "a lighthouse", Seed = 5, Width = 32, Height = 32, Steps = 5, Scheduler = new DdimScheduler(), ReturnTensors = true };
        using var a = TinyPipelines.Folder.Generate(request);
        using var b = TinyPipelines.Folder.Generate(request);
        Assert.Equal(new float[] { 801, 601, 401, 201, 1 }, a.Timesteps);
        TensorAssert.Identical(a.ImageTensor!, b.ImageTensor!);
        using var lcm = TinyPipelines.Folder.Generate(request with { Scheduler = null, Steps = 4 });
        Assert.False(TensorAssert.AreIdentical(a.ImageTensor!, lcm.ImageTensor!));
    }
}
