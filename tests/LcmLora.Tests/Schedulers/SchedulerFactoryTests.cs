using LcmLora.Schedulers;
using Xunit;

namespace LcmLora.Tests.Schedulers;

[Trait("Category", "unit")]
public class SchedulerFactoryTests
{
    [Theory]
    [InlineData("lcm", SchedulerKind.Lcm)]
    [InlineData("LCM", SchedulerKind.Lcm)]
    [InlineData("LCMScheduler", SchedulerKind.Lcm)]
    [InlineData("euler", SchedulerKind.Euler)]
    [InlineData(" Euler ", SchedulerKind.Euler)]
    [InlineData("EulerDiscreteScheduler", SchedulerKind.Euler)]
    [InlineData("euler_discrete", SchedulerKind.Euler)]
    public void NamesParse(string name, SchedulerKind kind)
    {
        Assert.Equal(kind, SchedulerFactory.ParseKind(name));
        Assert.Equal(kind.ToString().ToLowerInvariant(), SchedulerFactory.Create(name).Name);
    }

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<SchedulerConfigException>(() => SchedulerFactory.ParseKind("ddim"));
        Assert.Contains("lcm", e.Message);
        Assert.Contains("euler", e.Message);
        Assert.False(SchedulerFactory.TryParseKind(null, out _));
    }

    [Fact]
    public void CreatesTheRightTypesFromAConfigFile()
    {
        var path = Fixtures.Path("tiny-sdxl", "diffusers", "scheduler", "scheduler_config.json");
        var lcm = SchedulerFactory.FromConfigFile(SchedulerKind.Lcm, path);
        var euler = SchedulerFactory.FromConfigFile(SchedulerKind.Euler, path);
        Assert.IsType<LcmScheduler>(lcm);
        Assert.IsType<EulerDiscreteScheduler>(euler);
        // The file says LCMScheduler; the kind, not _class_name, picks the algorithm (diffusers from_config).
        Assert.Equal("LCMScheduler", euler.Config.ClassName);
        Assert.Equal(new float[] { 999, 759, 499, 259 }, lcm.SetTimesteps(4).Timesteps.ToArray());
        Assert.Equal(new float[] { 751, 501, 251, 1 }, euler.SetTimesteps(4).Timesteps.ToArray());
        Assert.Same(SchedulerConfig.SdxlBase, SchedulerFactory.Create(SchedulerKind.Lcm).Config);
    }

    [Fact]
    public void NamesListMatchesTheKinds() =>
        Assert.Equal(Enum.GetValues<SchedulerKind>(), SchedulerFactory.Names.Select(SchedulerFactory.ParseKind).ToArray());
}
