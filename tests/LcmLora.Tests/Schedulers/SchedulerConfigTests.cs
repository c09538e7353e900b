using LcmLora.Schedulers;
using Xunit;

namespace LcmLora.Tests.Schedulers;

[Trait("Category", "unit")]
public class SchedulerConfigTests
{
    [Fact]
    public void ReadsTheTinySdxlSchedulerConfig()
    {
        var c = SchedulerConfig.FromJson(Fixtures.Path("tiny-sdxl", "diffusers", "scheduler", "scheduler_config.json"));
        Assert.Equal("LCMScheduler", c.ClassName);
        Assert.Equal(1000, c.NumTrainTimesteps);
        Assert.Equal(0.00085, c.BetaStart);
        Assert.Equal(0.012, c.BetaEnd);
        Assert.Equal(BetaSchedule.ScaledLinear, c.BetaSchedule);
        Assert.Null(c.TrainedBetas);
        Assert.Equal(PredictionType.Epsilon, c.PredictionType);
        Assert.Equal(TimestepSpacing.Leading, c.TimestepSpacing);
        Assert.Equal(1, c.StepsOffset);
        Assert.False(c.SetAlphaToOne);
        Assert.Equal(50, c.OriginalInferenceSteps);
        Assert.Equal(10.0, c.TimestepScaling);
        Assert.False(c.ClipSample);
        Assert.False(c.Thresholding);
        Assert.Equal(SchedulerConfig.SdxlBase with { ClassName = "LCMScheduler" }, c with { TrainedBetas = null });
    }

    [Fact]
    public void SdxlBaseEulerConfigParses()
    {
        // stabilityai/stable-diffusion-xl-base-1.0 scheduler/scheduler_config.json
        const string json = """
        {"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
         "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false, "interpolation_type": "linear",
         "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": false,
         "skip_prk_steps": true, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": null, "use_karras_sigmas": false}
        """;
        Assert.Equal(SchedulerConfig.SdxlBase, SchedulerConfig.Parse(json));
    }

    [Fact]
    public void MissingFieldsTakeSdxlValues()
    {
        var c = SchedulerConfig.Parse("{}");
        Assert.Equal(SchedulerConfig.SdxlBase with { ClassName = null }, c);
    }

    [Fact]
    public void ValuesAreParsed()
    {
        var c = SchedulerConfig.Parse("""
            {"prediction_type": "v_prediction", "timestep_spacing": "trailing", "beta_schedule": "linear",
             "num_train_timesteps": 500.0, "trained_betas": [0.1, 0.2], "original_inference_steps": 25, "unknown": {"x": 1}}
            """);
        Assert.Equal(PredictionType.VPrediction, c.PredictionType);
        Assert.Equal(TimestepSpacing.Trailing, c.TimestepSpacing);
        Assert.Equal(BetaSchedule.Linear, c.BetaSchedule);
        Assert.Equal(500, c.NumTrainTimesteps);
        Assert.Equal(new[] { 0.1, 0.2 }, c.TrainedBetas);
        Assert.Equal(25, c.OriginalInferenceSteps);
        Assert.Equal(PredictionType.Sample, SchedulerConfig.Parse("""{"prediction_type": "original_sample"}""").PredictionType);
    }

    [Theory]
    [InlineData("""{"beta_schedule": "cosine"}""", "beta_schedule")]
    [InlineData("""{"prediction_type": "flow"}""", "prediction_type")]
    [InlineData("""{"timestep_spacing": 3}""", "timestep_spacing")]
    [InlineData("""{"num_train_timesteps": "1000"}""", "num_train_timesteps")]
    [InlineData("""{"num_train_timesteps": 999.5}""", "num_train_timesteps")]
    [InlineData("""{"clip_sample": "no"}""", "clip_sample")]
    [InlineData("""{"trained_betas": [0.1, "x"]}""", "trained_betas")]
    public void WrongValuesNameFileAndField(string json, string field)
    {
        var e = Assert.Throws<SchedulerConfigException>(() => SchedulerConfig.Parse(json, "my/scheduler_config.json"));
        Assert.Contains("my/scheduler_config.json", e.Message);
        Assert.Contains(field, e.Message);
        Assert.IsAssignableFrom<LcmLoraInputException>(e);
    }

    [Fact]
    public void MalformedOrMissingFiles()
    {
        Assert.Throws<SchedulerConfigException>(() => SchedulerConfig.Parse("{not json"));
        Assert.Throws<SchedulerConfigException>(() => SchedulerConfig.Parse("[1, 2]"));
        var missing = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "scheduler_config.json");
        var e = Assert.Throws<SchedulerConfigException>(() => SchedulerConfig.FromJson(missing));
        Assert.Contains(missing, e.Message);
    }
}
