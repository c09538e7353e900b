using LcmLora.Schedulers;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Schedulers;

[Trait("Category", "unit")]
public class EulerDiscreteSchedulerTests
{
    private static double TrainSigma(int t)
    {
        double a = NoiseSchedule.SdxlBase.AlphaCumprod(t);
        return Math.Sqrt((1 - a) / a);
    }

    [Fact]
    public void SdxlLeadingTimestepsFor25Steps()
    {
        // leading: arange(0, n) * (1000 // n) + steps_offset, reversed -> 961, 921, ..., 1.
        var expected = Enumerable.Range(0, 25).Select(i => (float)(i * (1000 / 25) + 1)).Reverse().ToArray();
        Assert.Equal(961f, expected[0]);
        Assert.Equal(1f, expected[^1]);
        var run = new EulerDiscreteScheduler().SetTimesteps(25);
        Assert.Equal(expected, run.Timesteps.ToArray());
    }

    [Theory]
    [InlineData(TimestepSpacing.Leading, 4, new float[] { 751, 501, 251, 1 })]
    [InlineData(TimestepSpacing.Leading, 3, new float[] { 667, 334, 1 })]
    [InlineData(TimestepSpacing.Linspace, 4, new float[] { 999, 666, 333, 0 })]
    [InlineData(TimestepSpacing.Linspace, 7, new float[] { 999, 832.5f, 666, 499.5f, 333, 166.5f, 0 })]
    [InlineData(TimestepSpacing.Linspace, 1, new float[] { 0 })]
    [InlineData(TimestepSpacing.Trailing, 4, new float[] { 999, 749, 499, 249 })]
    [InlineData(TimestepSpacing.Trailing, 3, new float[] { 999, 666, 332 })]
    public void SpacingFormulas(TimestepSpacing spacing, int steps, float[] expected)
    {
        Assert.Equal(expected, EulerDiscreteScheduler.ComputeTimesteps(spacing, 1000, steps, stepsOffset: 1));
        var run = new EulerDiscreteScheduler(SchedulerConfig.SdxlBase with { TimestepSpacing = spacing }).SetTimesteps(steps);
        Assert.Equal(expected, run.Timesteps.ToArray());
    }

    [Fact]
    public void TrailingAlwaysGivesExactlyNSteps()
    {
        foreach (var n in new[] { 61, 103, 121, 1000 })
        {
            var t = EulerDiscreteScheduler.ComputeTimesteps(TimestepSpacing.Trailing, 1000, n);
            Assert.Equal(n, t.Length);
            Assert.Equal(999f, t[0]);
            Assert.True(t[^1] >= 0);
        }
    }

    [Theory]
    [InlineData(TimestepSpacing.Leading, 25)]
    [InlineData(TimestepSpacing.Linspace, 7)]
    [InlineData(TimestepSpacing.Trailing, 10)]
    public void SigmasInterpolateTheTrainingTableEndInZeroAndDecrease(TimestepSpacing spacing, int steps)
    {
        var run = new EulerDiscreteScheduler(SchedulerConfig.SdxlBase with { TimestepSpacing = spacing }).SetTimesteps(steps);
        Assert.Equal(steps + 1, run.Sigmas.Count);
        Assert.Equal(0f, run.Sigmas[^1]);
        for (var i = 0; i + 1 < run.Sigmas.Count; i++) Assert.True(run.Sigmas[i] > run.Sigmas[i + 1], $"sigma {i} not decreasing");
        for (var i = 0; i < steps; i++)
        {
            double t = run.Timesteps[i];
            var lo = (int)Math.Floor(t);
            var expected = lo == t ? TrainSigma(lo) : TrainSigma(lo) + (TrainSigma(lo + 1) - TrainSigma(lo)) * (t - lo);
            Assert.Equal(expected, run.Sigmas[i], expected * 1e-6);
        }
        var max = run.Sigmas.Max();
        var expectedInit = spacing == TimestepSpacing.Leading ? Math.Sqrt((double)max * max + 1) : max;
        Assert.Equal(expectedInit, run.InitNoiseSigma, expectedInit * 1e-6);
    }

    [Fact]
    public void SdxlInitNoiseSigmaForLeadingSpacing()
    {
        var run = new EulerDiscreteScheduler().SetTimesteps(25);
        var expected = Math.Sqrt(TrainSigma(961) * TrainSigma(961) + 1);
        Assert.Equal(expected, run.InitNoiseSigma, expected * 1e-6);
        Assert.InRange(run.InitNoiseSigma, 10f, 16f); // SDXL's well-known ~13–14.6 range
    }

    [Fact]
    public void ScaleModelInputDividesBySqrtSigmaSquaredPlusOne()
    {
        using var scope = torch.NewDisposeScope();
        var run = new EulerDiscreteScheduler().SetTimesteps(25);
        var x = torch.randn([1, 4, 8, 8], generator: new torch.Generator(1));
        double sigma = run.Sigmas[0];
        TensorAssert.Close(x.to(torch.ScalarType.Float64) / Math.Sqrt(sigma * sigma + 1), run.ScaleModelInput(x, run.Timesteps[0]), 1e-6);
    }

    [Fact]
    public void DenoisingWithTheTrueNoiseReturnsTheCleanSample()
    {
        using var scope = torch.NewDisposeScope();
        var run = new EulerDiscreteScheduler().SetTimesteps(25);
        var x0 = torch.randn([1, 4, 16, 16], generator: new torch.Generator(7));
        var eps = torch.randn([1, 4, 16, 16], generator: new torch.Generator(8));
        var sample = x0 + eps * run.Sigmas[0];
        var generator = new torch.Generator(9);
        using var before = generator.get_state();
        for (var i = 0; i < run.Timesteps.Count; i++)
        {
            var result = run.Step(eps, run.Timesteps[i], sample, generator);
            TensorAssert.Close(x0, result.Denoised, 1e-5, $"x0 estimate at step {i}");
            TensorAssert.Close(x0 + eps * run.Sigmas[i + 1], result.PrevSample, 1e-5, $"sample after step {i}");
            sample = result.PrevSample;
        }
        TensorAssert.Close(x0, sample, 1e-5, "final sample");
        Assert.True(run.IsComplete);
        using var after = generator.get_state();
        TensorAssert.Identical(before, after, "Euler (s_churn 0) draws no noise");
    }

    [Theory]
    [InlineData(PredictionType.Epsilon)]
    [InlineData(PredictionType.Sample)]
    [InlineData(PredictionType.VPrediction)]
    public void OneStepFollowsDiffusersFormulas(PredictionType type)
    {
        using var scope = torch.NewDisposeScope();
        var run = new EulerDiscreteScheduler(SchedulerConfig.SdxlBase with { PredictionType = type }).SetTimesteps(10);
        run.Reset(3);
        var f64 = torch.ScalarType.Float64;
        var x = torch.randn([2, 4, 8, 8], generator: new torch.Generator(10)) * 3;
        var m = torch.randn([2, 4, 8, 8], generator: new torch.Generator(11));
        double s = run.Sigmas[3], sNext = run.Sigmas[4];
        var x64 = x.to(f64);
        var m64 = m.to(f64);
        var x0 = type switch
        {
            PredictionType.Epsilon => x64 - s * m64,
            PredictionType.Sample => m64,
            _ => m64 * (-s / Math.Sqrt(s * s + 1)) + x64 / (s * s + 1),
        };
        var prev = x64 + (x64 - x0) / s * (sNext - s);
        var result = run.Step(m, run.Timesteps[3], x);
        TensorAssert.Close(x0, result.Denoised, 1e-6, "pred_original_sample");
        TensorAssert.Close(prev, result.PrevSample, 1e-6, "prev_sample");
        Assert.Equal(torch.ScalarType.Float32, result.PrevSample.dtype);
        Assert.Equal(4, run.StepIndex);
    }

    [Fact]
    public void StrengthKeepsTheLastStepsAndAddNoiseUsesTheirSigma()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = new EulerDiscreteScheduler();
        var full = scheduler.SetTimesteps(10);
        var cut = scheduler.SetTimesteps(10, strength: 0.5);
        Assert.Equal(full.Timesteps.Skip(5).ToArray(), cut.Timesteps.ToArray());
        Assert.Equal(full.Sigmas.Skip(5).ToArray(), cut.Sigmas.ToArray());
        Assert.Equal(full.InitNoiseSigma, cut.InitNoiseSigma);
        Assert.Equal(new float[] { 401, 301, 201, 101, 1 }, cut.Timesteps.ToArray());

        var x0 = torch.randn([1, 4, 8, 8], generator: new torch.Generator(12));
        var noise = torch.randn([1, 4, 8, 8], generator: new torch.Generator(13));
        TensorAssert.Close(x0 + noise * cut.Sigmas[0], cut.AddNoise(x0, noise, cut.Timesteps[0]), 1e-6);
        Assert.Throws<ArgumentException>(() => cut.AddNoise(x0, noise, 500f));
        Assert.Throws<InvalidTimestepsException>(() => scheduler.SetTimesteps(10, strength: 0.05));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public void StepCountOutOfRangeIsRefused(int steps) =>
        Assert.Throws<InvalidTimestepsException>(() => new EulerDiscreteScheduler().SetTimesteps(steps));

    [Fact]
    public void UnimplementedOptionsAreRefused()
    {
        var b = SchedulerConfig.SdxlBase;
        Assert.Throws<SchedulerConfigException>(() => new EulerDiscreteScheduler(b with { UseKarrasSigmas = true }));
        Assert.Throws<SchedulerConfigException>(() => new EulerDiscreteScheduler(b with { InterpolationType = "log_linear" }));
        Assert.Throws<SchedulerConfigException>(() => new EulerDiscreteScheduler(b with { TimestepType = "continuous" }));
        Assert.Throws<SchedulerConfigException>(() => new EulerDiscreteScheduler(b with { FinalSigmasType = "sigma_min" }));
        Assert.Throws<SchedulerConfigException>(() => new EulerDiscreteScheduler(b with { UseExponentialSigmas = true }));
        Assert.Throws<SchedulerConfigException>(() => new EulerDiscreteScheduler(b with { UseBetaSigmas = true }));
    }
}
