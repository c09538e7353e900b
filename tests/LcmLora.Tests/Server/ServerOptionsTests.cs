using LcmLora.Server;
using Xunit;

namespace LcmLora.Tests.Server;

/// <summary>The CLI-style switches of the server map to its configuration keys.</summary>
[Trait("Category", "unit")]
public sealed class ServerOptionsTests
{
    [Fact]
    public void SwitchesMapToConfigurationKeysAndRepeatedLorasKeepEveryValue()
    {
        var mapped = ServerOptions.MapArguments(["--model", "sdxl", "--lora", "lcm.safetensors", "--lora=style.safetensors:0.8",
            "--preview-taesd", "taesd", "--queue-limit", "3", "--urls", "http://0.0.0.0:8080"]);

        Assert.Equal(["--Server:Model=sdxl", "--Server:Loras:0=lcm.safetensors", "--Server:Loras:1=style.safetensors:0.8",
            "--Server:PreviewTaesd=taesd", "--Server:QueueLimit=3", "--urls", "http://0.0.0.0:8080"], mapped);
    }

    [Fact]
    public void ASwitchWithoutItsValueIsLeftForTheHostToReport()
    {
        Assert.Equal(["--model"], ServerOptions.MapArguments(["--model"]));
    }
}
