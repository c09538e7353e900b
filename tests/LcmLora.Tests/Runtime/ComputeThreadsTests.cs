using LcmLora.Pipelines;
using LcmLora.Runtime;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Runtime;

[Trait("Category", "parity")]
public class ComputeThreadsTests
{
    [Fact]
    public void TheEnvironmentVariableSetsTheDefaultCount()
    {
        var saved = Environment.GetEnvironmentVariable(ComputeThreads.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(ComputeThreads.EnvironmentVariable, "3");
            Assert.Equal(3, ComputeThreads.Apply());
            Assert.Equal(3, torch.get_num_threads());
            Assert.Equal(2, ComputeThreads.Apply(2));
            Environment.SetEnvironmentVariable(ComputeThreads.EnvironmentVariable, "many");
            var e = Assert.Throws<LcmLoraInputException>(() => ComputeThreads.Apply());
            Assert.Contains("LCMLORA_THREADS=many", e.Message);
            Environment.SetEnvironmentVariable(ComputeThreads.EnvironmentVariable, null);
            Assert.Equal(ComputeThreads.PhysicalCores(), ComputeThreads.Default());
        }
        finally
        {
            Environment.SetEnvironmentVariable(ComputeThreads.EnvironmentVariable, saved);
            ComputeThreads.Apply();
        }
    }

    [Fact]
    public void TheTestRunUsesOneThreadEvenAfterAPipelineLoads()
    {
        using var pipeline = SdxlPipeline.Load(Fixtures.Path("tiny-sdxl", "diffusers"));
        Assert.Equal(1, torch.get_num_threads());
    }
}
