using System.Text.Json;
using LcmLora.IO;
using LcmLora.Pipelines;
using LcmLora.Runtime;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace LcmLora.Tests.Pipelines;

/// <summary>
/// bf16 generation against the fp32 reference image of each <c>pipeline-lcm</c> case, beside diffusers' own bf16 run
/// (<c>fixtures/precision</c>): our PSNR may be at most 3 dB below diffusers' figure for the same case.
/// </summary>
[Trait("Category", "parity")]
public class Bf16QualityTests(ITestOutputHelper output)
{
    private const double AllowedShortfallDb = 3.0;

    private static readonly Lazy<SdxlPipeline> Bf16Pipeline = new(() =>
        SdxlPipeline.Load(Fixtures.Path("tiny-sdxl", "diffusers"), new PipelineOptions { Precision = ComputePrecision.BFloat16 }));

    [Theory]
    [InlineData("gs1_0")]
    [InlineData("gs1_5")]
    [InlineData("seed_path")]
    public void Bf16ImageIsAsCloseToTheFp32ReferenceAsDiffusersBf16(string caseName)
    {
        using var data = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", caseName, "data.safetensors"));
        using var caseJson = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("precision", caseName, "case.json")));
        var diffusersPsnr = caseJson.RootElement.GetProperty("bf16_vs_fp32").GetProperty("psnr_db").GetDouble();

        using var result = Bf16Pipeline.Value.Generate(Request(caseName, data));
        Assert.Equal(torch.ScalarType.BFloat16, result.DType);
        using var reference = data.Read("image");
        var ours = Psnr(reference, result.ImageTensor!);
        output.WriteLine($"{caseName}: ours {ours:0.00} dB, diffusers bf16 {diffusersPsnr:0.00} dB (fp32 reference image)");
        Assert.True(ours >= diffusersPsnr - AllowedShortfallDb,
            $"{caseName}: bf16 PSNR {ours:0.00} dB against the fp32 image; diffusers' bf16 gets {diffusersPsnr:0.00} dB (allowed {AllowedShortfallDb} dB less)");
    }

    [Fact]
    public void DiffusersOwnBf16ImageMatchesItsRecordedPsnr()
    {
        // Checks the PSNR definition used above against the figure the fixture records for diffusers' bf16 image.
        using var data = SafeTensorsFile.Open(Fixtures.Path("pipeline-lcm", "gs1_0", "data.safetensors"));
        using var precision = SafeTensorsFile.Open(Fixtures.Path("precision", "gs1_0", "data.safetensors"));
        using var caseJson = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("precision", "gs1_0", "case.json")));
        using var reference = data.Read("image");
        using var bf16 = precision.Read("image_bf16");
        Assert.Equal(caseJson.RootElement.GetProperty("bf16_vs_fp32").GetProperty("psnr_db").GetDouble(), Psnr(reference, bf16), 2);
    }

    internal static GenerationRequest Request(string caseName, SafeTensorsFile data) => caseName == "seed_path"
        ? new GenerationRequest { Prompt = "a lighthouse on a cliff at sunset", Seed = 2024, Width = 48, Height = 32, ReturnTensors = true }
        : new GenerationRequest
        {
            Prompt = "a tiny red fox in the snow",
            GuidanceScale = caseName == "gs1_5" ? 1.5 : 1.0,
            Latents = data.Read("initial_latents"),
            Generator = new torch.Generator(1234),
            Width = 32,
            Height = 32,
            ReturnTensors = true,
        };

    /// <summary>10 log10(1 / MSE) over all values of two [0, 1] images, as the fixtures define it.</summary>
    internal static double Psnr(torch.Tensor reference, torch.Tensor image)
    {
        using var scope = torch.NewDisposeScope();
        var mse = (image.to(torch.ScalarType.Float64) - reference.to(torch.ScalarType.Float64)).square().mean().item<double>();
        return 10 * Math.Log10(1 / mse);
    }
}
