using LcmLora.IO;
using LcmLora.Schedulers;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Schedulers;

[Trait("Category", "unit")]
public class NoiseScheduleTests
{
    [Fact]
    public void SdxlBetasAndAlphasCumprodMatchFixtureBitForBit()
    {
        using var file = SafeTensorsFile.Open(LcmFixture.DataPath);
        using var betas = file.Read("betas");
        using var alphas = file.Read("alphas_cumprod");
        var schedule = NoiseSchedule.SdxlBase;
        Assert.Equal(1000, schedule.NumTrainTimesteps);
        Assert.Equal(betas.data<float>().ToArray(), schedule.Betas.ToArray());
        Assert.Equal(alphas.data<float>().ToArray(), schedule.AlphasCumprod.ToArray());
    }

    [Fact]
    public void FixtureConfigFileGivesTheSameSchedule()
    {
        var path = Fixtures.Path("tiny-sdxl", "diffusers", "scheduler", "scheduler_config.json");
        var schedule = NoiseSchedule.FromConfig(SchedulerConfig.FromJson(path));
        Assert.Equal(NoiseSchedule.SdxlBase.AlphasCumprod.ToArray(), schedule.AlphasCumprod.ToArray());
    }

    [Fact]
    public void PerStepAlphasOfTheFixtureRun()
    {
        foreach (var step in LcmFixture.Case.GetProperty("run").GetProperty("per_step").EnumerateArray())
        {
            var t = step.GetProperty("timestep").GetInt32();
            Assert.Equal((float)step.GetProperty("alpha_prod_t").GetDouble(), NoiseSchedule.SdxlBase.AlphaCumprod(t));
        }
    }

    [Fact]
    public void AlphasCumprodIsTheFloat32ProductOfOneMinusBetas()
    {
        var s = NoiseSchedule.SdxlBase;
        double product = 1;
        for (var t = 0; t < s.NumTrainTimesteps; t++)
        {
            product *= 1f - s.Betas[t];
            Assert.Equal((float)product, s.AlphasCumprod[t]);
        }
        Assert.True(s.AlphasCumprod.Zip(s.AlphasCumprod.Skip(1)).All(p => p.Second < p.First));
    }

    [Fact]
    public void LinearAndTrainedBetas()
    {
        var linear = NoiseSchedule.FromConfig(new SchedulerConfig { BetaSchedule = BetaSchedule.Linear, BetaStart = 0.0001, BetaEnd = 0.02 });
        Assert.Equal(0.0001f, linear.Betas[0]);
        Assert.Equal(0.02f, linear.Betas[^1], 7);
        var trained = NoiseSchedule.FromConfig(new SchedulerConfig { TrainedBetas = [0.1, 0.2, 0.5] });
        Assert.Equal(3, trained.NumTrainTimesteps);
        Assert.Equal(new[] { 0.9f, 0.9f * 0.8f, 0.9f * 0.8f * 0.5f }, trained.AlphasCumprod.ToArray());
    }

    [Fact]
    public void CosineBetasAreCapped()
    {
        var s = NoiseSchedule.FromConfig(new SchedulerConfig { BetaSchedule = BetaSchedule.SquaredCosCapV2 });
        Assert.Equal(0.999f, s.Betas[^1]);
        Assert.All(s.Betas, b => Assert.InRange(b, 0f, 0.999f));
    }

    [Fact]
    public void UnsupportedOrImpossibleConfigsAreRefused()
    {
        Assert.Throws<SchedulerConfigException>(() => NoiseSchedule.FromConfig(new SchedulerConfig { RescaleBetasZeroSnr = true }));
        Assert.Throws<SchedulerConfigException>(() => NoiseSchedule.FromConfig(new SchedulerConfig { NumTrainTimesteps = 1 }));
        Assert.Throws<SchedulerConfigException>(() => NoiseSchedule.FromConfig(new SchedulerConfig { BetaEnd = 1.5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseSchedule.SdxlBase.AlphaCumprod(1000));
    }

    [Fact]
    public void AlphasCumprodTensorIsAFreshCopy()
    {
        using var t = NoiseSchedule.SdxlBase.AlphasCumprodTensor();
        Assert.Equal(torch.ScalarType.Float32, t.dtype);
        Assert.Equal(NoiseSchedule.SdxlBase.AlphasCumprod.ToArray(), t.data<float>().ToArray());
    }
}
