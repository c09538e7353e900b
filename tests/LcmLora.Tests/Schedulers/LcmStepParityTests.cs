using LcmLora.IO;
using LcmLora.Schedulers;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Schedulers;

[Trait("Category", "parity")]
public class LcmStepParityTests
{
    private const double StepTolerance = 1e-6;

    [Fact]
    public void FourStepRunMatchesFixtureStepByStep()
    {
        using var scope = torch.NewDisposeScope();
        using var file = SafeTensorsFile.Open(LcmFixture.DataPath);
        var scheduler = new LcmScheduler(SchedulerConfig.FromJson(Fixtures.Path("tiny-sdxl", "diffusers", "scheduler", "scheduler_config.json")));
        var run = scheduler.SetTimesteps(4);
        Assert.Equal(file.Read("timesteps").data<long>().Select(t => (float)t).ToArray(), run.Timesteps.ToArray());
        Assert.Equal(1f, run.InitNoiseSigma);
        Assert.Equal((float)LcmFixture.Case.GetProperty("init_noise_sigma").GetDouble(), run.InitNoiseSigma);

        var generator = new torch.Generator(2025);
        var sample = file.Read("initial_sample");
        for (var i = 0; i < 4; i++)
        {
            TensorAssert.Identical(file.Read($"step_{i}.sample"), sample, $"step {i} input");
            var t = run.Timesteps[i];
            var input = run.ScaleModelInput(sample, t);
            TensorAssert.Identical(sample, input, "LCM does not scale the model input");
            var result = run.Step(file.Read($"step_{i}.model_output"), t, sample, generator);
            TensorAssert.Close(file.Read($"step_{i}.denoised"), result.Denoised, StepTolerance, $"step {i} denoised");
            TensorAssert.Close(file.Read($"step_{i}.prev_sample"), result.PrevSample, StepTolerance, $"step {i} prev_sample");
            Assert.Equal(i + 1, run.StepIndex);
            sample = result.PrevSample;
        }
        Assert.True(run.IsComplete);
    }

    [Fact]
    public void FixtureRunIsReproducedBitForBit()
    {
        // Not required by the tolerance, but documents that the float32 arithmetic is the reference's.
        using var scope = torch.NewDisposeScope();
        using var file = SafeTensorsFile.Open(LcmFixture.DataPath);
        var run = new LcmScheduler().SetTimesteps(4);
        var generator = new torch.Generator(2025);
        var sample = file.Read("initial_sample");
        for (var i = 0; i < 4; i++)
        {
            var result = run.Step(file.Read($"step_{i}.model_output"), run.Timesteps[i], sample, generator);
            TensorAssert.Identical(file.Read($"step_{i}.denoised"), result.Denoised, $"step {i} denoised");
            TensorAssert.Identical(file.Read($"step_{i}.prev_sample"), result.PrevSample, $"step {i} prev_sample");
            sample = result.PrevSample;
        }
    }

    [Fact]
    public void StepNoiseIsTheSequentialRandnOfTheGeneratorAndTheLastStepDrawsNone()
    {
        using var scope = torch.NewDisposeScope();
        using var file = SafeTensorsFile.Open(LcmFixture.DataPath);
        var replay = new torch.Generator(2025);
        for (var i = 0; i < 3; i++)
        {
            var expected = file.Read($"step_{i}.noise");
            TensorAssert.Identical(expected, torch.randn(expected.shape, generator: replay), $"noise {i}");
        }
        var afterThree = torch.randn([8], generator: replay);

        // Run the scheduler with the same seed; after its 4 steps the generator must be where 3 draws leave it.
        var run = new LcmScheduler().SetTimesteps(4);
        var generator = new torch.Generator(2025);
        var sample = file.Read("initial_sample");
        for (var i = 0; i < 4; i++)
            sample = run.Step(file.Read($"step_{i}.model_output"), run.Timesteps[i], sample, generator).PrevSample;
        TensorAssert.Identical(afterThree, torch.randn([8], generator: generator), "generator position after the run");
    }

    [Fact]
    public void ARunCanBeResetAndASchedulerReusedWithIdenticalResults()
    {
        using var scope = torch.NewDisposeScope();
        using var file = SafeTensorsFile.Open(LcmFixture.DataPath);
        var scheduler = new LcmScheduler();
        torch.Tensor Generate(ISchedulerRun run)
        {
            var generator = new torch.Generator(2025);
            var sample = file.Read("initial_sample");
            foreach (var (t, i) in run.Timesteps.Select((t, i) => (t, i)))
                sample = run.Step(file.Read($"step_{i}.model_output"), t, sample, generator).PrevSample;
            return sample;
        }
        var run1 = scheduler.SetTimesteps(4);
        var first = Generate(run1);
        run1.Reset();
        var again = Generate(run1);
        var fresh = Generate(scheduler.SetTimesteps(4));
        TensorAssert.Identical(first, again, "after Reset");
        TensorAssert.Identical(first, fresh, "fresh run");
        TensorAssert.Identical(file.Read("step_3.prev_sample"), first, "final latents");
    }

    [Theory]
    [InlineData(PredictionType.Sample)]
    [InlineData(PredictionType.VPrediction)]
    [InlineData(PredictionType.Epsilon)]
    public void PredictionTypesFollowTheirFormulas(PredictionType type)
    {
        using var scope = torch.NewDisposeScope();
        var run = new LcmScheduler(SchedulerConfig.SdxlBase with { PredictionType = type }).SetTimesteps(2); // 999, 499
        var x = torch.randn([1, 4, 8, 8], generator: new torch.Generator(1)).to(torch.ScalarType.Float64);
        var m = torch.randn([1, 4, 8, 8], generator: new torch.Generator(2)).to(torch.ScalarType.Float64);
        double a = NoiseSchedule.SdxlBase.AlphaCumprod(999), aPrev = NoiseSchedule.SdxlBase.AlphaCumprod(499);
        var x0 = type switch
        {
            PredictionType.Epsilon => (x - Math.Sqrt(1 - a) * m) / Math.Sqrt(a),
            PredictionType.Sample => m,
            _ => Math.Sqrt(a) * x - Math.Sqrt(1 - a) * m,
        };
        double s = 9990, cSkip = 0.25 / (s * s + 0.25), cOut = s / Math.Sqrt(s * s + 0.25);
        var denoised = cOut * x0 + cSkip * x;
        var noise = torch.randn([1, 4, 8, 8], generator: new torch.Generator(3)).to(torch.ScalarType.Float64);
        var prev = Math.Sqrt(aPrev) * denoised + Math.Sqrt(1 - aPrev) * noise;

        var result = run.Step(m.to(torch.ScalarType.Float32), 999, x.to(torch.ScalarType.Float32), new torch.Generator(3));
        TensorAssert.Close(denoised, result.Denoised, 1e-6, "denoised");
        TensorAssert.Close(prev, result.PrevSample, 1e-6, "prev_sample");

        // Last step: no noise, prev == denoised, distinct handles.
        var last = run.Step(m.to(torch.ScalarType.Float32), 499, x.to(torch.ScalarType.Float32), generator: null);
        TensorAssert.Identical(last.Denoised, last.PrevSample);
        Assert.NotSame(last.Denoised, last.PrevSample);
        last.Denoised.Dispose();
        Assert.Equal(last.PrevSample.shape, new long[] { 1, 4, 8, 8 });
        Assert.True(last.PrevSample.isfinite().all().item<bool>());
    }

    [Fact]
    public void ClipSampleClampsTheEstimate()
    {
        using var scope = torch.NewDisposeScope();
        var run = new LcmScheduler(SchedulerConfig.SdxlBase with { ClipSample = true, ClipSampleRange = 0.5 }).SetTimesteps(1);
        var x = torch.randn([1, 4, 8, 8], generator: new torch.Generator(4)) * 3;
        var result = run.Step(torch.zeros(1, 4, 8, 8), 999, x);
        Assert.True(result.Denoised.abs().max().item<float>() <= 0.5f + 1e-6f);
    }

    [Fact]
    public void AddNoiseIsTheDdpmForward()
    {
        using var scope = torch.NewDisposeScope();
        var run = new LcmScheduler().SetTimesteps(4, strength: 0.5);
        Assert.Equal(499f, run.Timesteps[0]);
        var x0 = torch.randn([1, 4, 8, 8], generator: new torch.Generator(5));
        var noise = torch.randn([1, 4, 8, 8], generator: new torch.Generator(6));
        double a = NoiseSchedule.SdxlBase.AlphaCumprod(499);
        var expected = Math.Sqrt(a) * x0.to(torch.ScalarType.Float64) + Math.Sqrt(1 - a) * noise.to(torch.ScalarType.Float64);
        TensorAssert.Close(expected, run.AddNoise(x0, noise, 499), 1e-6);
        Assert.Equal(0, run.StepIndex);
        Assert.Throws<ArgumentException>(() => run.AddNoise(x0, noise, 499.5f));
        Assert.Throws<ArgumentException>(() => run.AddNoise(x0, noise, 1000));
    }
}
