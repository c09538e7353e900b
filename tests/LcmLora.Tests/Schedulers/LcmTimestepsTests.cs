using LcmLora.Schedulers;
using Xunit;

namespace LcmLora.Tests.Schedulers;

[Trait("Category", "unit")]
public class LcmTimestepsTests
{
    public static IEnumerable<object[]> FixtureTables() => LcmFixture.Tables().Select(t => new object[] { t.Name });

    [Theory]
    [MemberData(nameof(FixtureTables))]
    public void EveryFixtureTableIsReproduced(string name)
    {
        var table = LcmFixture.Tables().Single(t => t.Name == name);
        var scheduler = new LcmScheduler(SchedulerConfig.FromJson(Fixtures.Path("tiny-sdxl", "diffusers", "scheduler", "scheduler_config.json")));
        if (table.Error is { } error)
        {
            Assert.StartsWith("ERROR: ValueError: The combination of `original_steps x strength`", error);
            var e = Assert.Throws<InvalidTimestepsException>(() => scheduler.SetTimesteps(table.Steps, 1.0, table.Original));
            Assert.IsAssignableFrom<LcmLoraInputException>(e);
            Assert.Contains($"({table.Original} x 1.0)", e.Message);
            Assert.Contains($"num_inference_steps ({table.Steps})", e.Message);
            Assert.Contains($"at most {table.Original}", e.Message);
            return;
        }
        var run = scheduler.SetTimesteps(table.Steps, 1.0, table.Original);
        Assert.Equal(table.Timesteps!, run.IntegerTimesteps.ToArray());
        Assert.Equal(table.Timesteps!.Select(t => (float)t).ToArray(), run.Timesteps.ToArray());
        Assert.Equal(table.Timesteps!, LcmScheduler.ComputeTimesteps(1000, table.Steps, table.Original));
    }

    [Fact]
    public void DefaultIsFourStepsOfTheCurrentAlgorithm()
    {
        Assert.Equal(new[] { 999, 759, 499, 259 }, new LcmScheduler().SetTimesteps(4).IntegerTimesteps.ToArray());
        Assert.Equal(new[] { 999, 759, 499, 259 },
            LcmFixture.Case.GetProperty("run").GetProperty("per_step").EnumerateArray().Select(s => s.GetProperty("timestep").GetInt32()).ToArray());
    }

    [Theory]
    [InlineData(0.5, 4, new[] { 499, 379, 259, 139 })]
    [InlineData(0.5, 1, new[] { 499 })]
    [InlineData(0.3, 3, new[] { 299, 199, 99 })]
    [InlineData(0.04, 2, new[] { 39, 19 })]
    public void StrengthCutsTheGridBeforeSelecting(double strength, int steps, int[] expected)
    {
        // Independent restatement: grid [1..int(50*s)]*20-1 reversed, indices floor(i*len/n).
        var len = (int)(50 * strength);
        var grid = Enumerable.Range(1, len).Select(i => i * 20 - 1).Reverse().ToArray();
        var independent = Enumerable.Range(0, steps).Select(i => grid[(int)Math.Floor(i * (len / (double)steps))]).ToArray();
        Assert.Equal(expected, independent);
        Assert.Equal(expected, new LcmScheduler().SetTimesteps(steps, strength).IntegerTimesteps.ToArray());
    }

    [Theory]
    [InlineData(0, 1.0, 50)]      // no steps
    [InlineData(4, 0.0, 50)]      // strength 0
    [InlineData(4, 1.5, 50)]      // strength > 1
    [InlineData(4, double.NaN, 50)]
    [InlineData(4, 0.06, 50)]     // int(50*0.06) = 3 < 4 steps
    [InlineData(4, 1.0, 1001)]    // original steps > num_train_timesteps
    [InlineData(4, 1.0, 0)]       // original steps < 1
    [InlineData(1001, 1.0, 1000)] // steps > num_train_timesteps
    [InlineData(51, 1.0, 50)]     // steps > original steps (caught by the grid check first, as in diffusers)
    public void DiffusersValidationErrorsAreTyped(int steps, double strength, int original)
    {
        var e = Assert.Throws<InvalidTimestepsException>(() => new LcmScheduler().SetTimesteps(steps, strength, original));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void CustomTimesteps()
    {
        var scheduler = new LcmScheduler();
        Assert.Equal(new[] { 999, 499, 19 }, scheduler.SetCustomTimesteps([999, 499, 19]).IntegerTimesteps.ToArray());
        Assert.Equal(new[] { 499, 19 }, scheduler.SetCustomTimesteps([999, 499, 19], strength: 0.7).IntegerTimesteps.ToArray());
        Assert.Throws<InvalidTimestepsException>(() => scheduler.SetCustomTimesteps([999, 999, 19]));
        Assert.Throws<InvalidTimestepsException>(() => scheduler.SetCustomTimesteps([499, 999]));
        Assert.Throws<InvalidTimestepsException>(() => scheduler.SetCustomTimesteps([1000, 19]));
        Assert.Throws<InvalidTimestepsException>(() => scheduler.SetCustomTimesteps([19, -1]));
        Assert.Throws<InvalidTimestepsException>(() => scheduler.SetCustomTimesteps([]));
        Assert.Throws<InvalidTimestepsException>(() => scheduler.SetCustomTimesteps([999, 19], strength: 0.4));
    }

    [Fact]
    public void BoundaryScalingsMatchTheFixture()
    {
        var scheduler = new LcmScheduler();
        foreach (var step in LcmFixture.Case.GetProperty("run").GetProperty("per_step").EnumerateArray())
        {
            var (cSkip, cOut) = scheduler.BoundaryScalings(step.GetProperty("timestep").GetInt32());
            Assert.Equal((float)step.GetProperty("c_skip").GetDouble(), cSkip);
            Assert.Equal((float)step.GetProperty("c_out").GetDouble(), cOut);
        }
    }
}
