using LcmLora.Lora;
using Xunit;

namespace LcmLora.Tests.Lora;

/// <summary><see cref="LoraSpec.Parse"/>: the one <c>PATH[:WEIGHT]</c> parser (the CLI's --lora and --controlnet, the server's --lora).</summary>
[Trait("Category", "unit")]
public class LoraSpecTests : TempDirectoryTest
{
    [Theory]
    [InlineData("style.safetensors", "style.safetensors", 1.0)]
    [InlineData("style.safetensors:0.8", "style.safetensors", 0.8)]
    [InlineData("style.safetensors:-1.5e0", "style.safetensors", -1.5)]
    [InlineData("latent-consistency/lcm-lora-sdxl:1", "latent-consistency/lcm-lora-sdxl", 1.0)]
    [InlineData(@"C:\loras\style.safetensors", @"C:\loras\style.safetensors", 1.0)]
    [InlineData(@"C:\loras\style.safetensors:0.25", @"C:\loras\style.safetensors", 0.25)]
    public void SplitsThePathAndTheWeight(string value, string path, double weight) =>
        Assert.Equal(new LoraSpec(path, weight), LoraSpec.Parse(value));

    [Fact]
    public void AnExistingFileWhoseNameHoldsAColonIsAPath()
    {
        var path = TempPath("a:b.safetensors");
        File.WriteAllText(path, "");
        Assert.Equal(new LoraSpec(path, 1.0), LoraSpec.Parse(path));
    }

    [Theory]
    [InlineData("style.safetensors:abc", "the weight 'abc' is not a number")]
    [InlineData("style.safetensors:NaN", "finite")]
    [InlineData("style.safetensors:Infinity", "finite")]
    public void AWeightThatIsNotAFiniteNumberIsNamed(string value, string message)
    {
        var e = Assert.Throws<LcmLoraInputException>(() => LoraSpec.Parse(value));
        Assert.StartsWith(value + ":", e.Message);
        Assert.Contains(message, e.Message);
    }
}
