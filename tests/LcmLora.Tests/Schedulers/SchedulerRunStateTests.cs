using LcmLora.Schedulers;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Schedulers;

/// <summary>Step bookkeeping common to every scheduler run.</summary>
[Trait("Category", "unit")]
public class SchedulerRunStateTests
{
    public static IEnumerable<object[]> Kinds() => Enum.GetValues<SchedulerKind>().Select(k => new object[] { k });

    [Theory]
    [MemberData(nameof(Kinds))]
    public void StepsMustFollowTheTimestepsInOrder(SchedulerKind kind)
    {
        using var scope = torch.NewDisposeScope();
        var run = SchedulerFactory.Create(kind).SetTimesteps(2);
        var x = torch.zeros(1, 4, 4, 4);
        Assert.Equal(0, run.StepIndex);
        Assert.Throws<InvalidOperationException>(() => run.Step(x, run.Timesteps[1], x));
        Assert.Throws<InvalidOperationException>(() => run.ScaleModelInput(x, run.Timesteps[1]));
        Assert.Throws<ArgumentException>(() => run.Step(torch.zeros(1, 4, 4, 5), run.Timesteps[0], x));
        Assert.Equal(0, run.StepIndex);

        run.Step(x, run.Timesteps[0], x);
        run.Step(x, run.Timesteps[1], x);
        Assert.True(run.IsComplete);
        Assert.Equal(2, run.StepIndex);
        var e = Assert.Throws<InvalidOperationException>(() => run.Step(x, run.Timesteps[1], x));
        Assert.Contains("Reset", e.Message);

        run.Reset(1);
        Assert.Equal(1, run.StepIndex);
        run.Step(x, run.Timesteps[1], x);
        Assert.Throws<ArgumentOutOfRangeException>(() => run.Reset(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => run.Reset(-1));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void RunsAreIndependentAndTheSchedulerHoldsNoState(SchedulerKind kind)
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = SchedulerFactory.Create(kind);
        var a = scheduler.SetTimesteps(4);
        var b = scheduler.SetTimesteps(4);
        var x = torch.ones(1, 4, 4, 4);
        a.Step(x, a.Timesteps[0], x, new torch.Generator(1));
        Assert.Equal(1, a.StepIndex);
        Assert.Equal(0, b.StepIndex);
        Assert.Equal(a.Timesteps, b.Timesteps);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ReturnedTensorsAreOwnedByTheCaller(SchedulerKind kind)
    {
        var run = SchedulerFactory.Create(kind).SetTimesteps(1);
        using var x = torch.ones(1, 4, 4, 4);
        var scaled = run.ScaleModelInput(x, run.Timesteps[0]);
        Assert.NotSame(x, scaled);
        scaled.Dispose();
        var result = run.Step(x, run.Timesteps[0], x, new torch.Generator(1));
        Assert.NotSame(result.PrevSample, result.Denoised);
        result.Denoised.Dispose();
        Assert.True(result.PrevSample.isfinite().all().item<bool>());
        Assert.Equal(1f, x.mean().item<float>()); // input untouched
        result.PrevSample.Dispose();
    }
}
