using System.Text.Json;
using LcmLora.IO;
using LcmLora.Lora;
using LcmLora.Tests.Pipelines;
using Xunit;

namespace LcmLora.Tests.Lora;

/// <summary>
/// <see cref="LoraInspection"/>: a LoRA described and matched against a checkpoint from headers alone. The expected
/// matches come from the fixture's <c>lora/case.json</c> (<c>key_to_module</c>: which module each key of lora_a and
/// lora_b adapts, written by the Python reference), not from our matcher.
/// </summary>
[Trait("Category", "unit")]
public class LoraInspectionTests : TempDirectoryTest
{
    private static string LoraPath(string name) => Fixtures.Path("lora", name);

    /// <summary>Per component, how many keys of lora_a / lora_b the reference maps to a module.</summary>
    private static Dictionary<string, int> ExpectedPerComponent(string letter)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("lora", "case.json")));
        return doc.RootElement.GetProperty("key_to_module").GetProperty(letter).EnumerateObject()
            .GroupBy(p => p.Value.GetString()!.Split('.')[0]).ToDictionary(g => g.Key, g => g.Count());
    }

    [Theory]
    [InlineData("lora_a.safetensors", "a", true)]  // kohya, original (SGM) UNet names, LoCon, both text encoders
    [InlineData("lora_b.safetensors", "b", false)] // kohya, diffusers names (the released LCM-LoRA layout)
    [InlineData("lora_c.safetensors", "b", true)]  // PEFT, the same modules as lora_b
    public void AFullMatchReportsEveryModuleOfEveryComponent(string lora, string letter, bool singleFile)
    {
        var result = singleFile
            ? LoraInspection.Match(LoraPath(lora), Fixtures.TinySgm, Fixtures.TinyConfigDir)
            : LoraInspection.Match(LoraPath(lora), Fixtures.Path("tiny-sdxl", "diffusers"));

        var expected = ExpectedPerComponent(letter);
        Assert.True(result.IsComplete, result.ToString());
        Assert.Equal(expected.Values.Sum(), result.MatchedModules);
        foreach (var (component, count) in expected)
        {
            var report = result.Reports.Single(r => r.Component == component);
            Assert.Equal(count, report.ModulesInFile);
            Assert.Equal(count, report.Matched);
            Assert.Empty(report.UnmatchedKeys);
            Assert.Empty(report.ShapeMismatches);
        }
        Assert.Equal(LoraPath(lora), result.Source);
        Assert.Equal(LoraInspection.Describe(LoraPath(lora)).Format.ToString(), result.Format.ToString());
    }

    [Fact]
    public void APartialMatchIsReportedWithTheKeysThatMatchNothing()
    {
        // lora_b plus one module addressed to a UNet block the model does not have.
        var path = TempPath("partial.safetensors");
        using (var source = SafeTensorsFile.Open(LoraPath("lora_b.safetensors")))
        {
            var writer = new SafeTensorsWriter();
            foreach (var t in source.Tensors) writer.AddRaw(source, t.Name);
            const string Missing = "lora_unet_down_blocks_7_attentions_0_proj_in";
            writer.AddRaw(source, source.Tensors.First(t => t.Name.EndsWith(".lora_down.weight", StringComparison.Ordinal)).Name, Missing + ".lora_down.weight");
            writer.AddRaw(source, source.Tensors.First(t => t.Name.EndsWith(".lora_up.weight", StringComparison.Ordinal)).Name, Missing + ".lora_up.weight");
            writer.Save(path);
        }
        var expected = ExpectedPerComponent("b");

        var result = LoraInspection.Match(path, Fixtures.TinySgm, Fixtures.TinyConfigDir);

        Assert.False(result.IsComplete);
        Assert.Equal(expected.Values.Sum(), result.MatchedModules);
        var unet = result.Reports.Single(r => r.Component == "unet");
        Assert.Equal(expected["unet"] + 1, unet.ModulesInFile);
        Assert.Equal(expected["unet"], unet.Matched);
        Assert.Equal(["lora_unet_down_blocks_7_attentions_0_proj_in"], unet.UnmatchedKeys);
        Assert.All(result.Reports.Where(r => r.Component != "unet"), r => Assert.True(r.IsComplete, r.ToString()));
    }

    [Fact]
    public void AZeroMatchIsAReportNotAnException()
    {
        // lora_b's UNet modules renamed to blocks the model does not have: nothing matches.
        var path = TempPath("zero.safetensors");
        int modules;
        using (var source = SafeTensorsFile.Open(LoraPath("lora_b.safetensors")))
        {
            var writer = new SafeTensorsWriter();
            var unet = source.Tensors.Where(t => t.Name.StartsWith("lora_unet_", StringComparison.Ordinal)).ToList();
            foreach (var t in unet) writer.AddRaw(source, t.Name, t.Name.Replace("lora_unet_", "lora_unet_nowhere_", StringComparison.Ordinal));
            modules = unet.Select(t => t.Name[..t.Name.IndexOf('.')]).Distinct().Count();
            writer.Save(path);
        }

        var result = LoraInspection.Match(path, Fixtures.Path("tiny-sdxl", "diffusers"));

        Assert.Equal(0, result.MatchedModules);
        Assert.False(result.IsComplete);
        var report = result.Reports.Single(r => r.Component == "unet");
        Assert.Equal(modules, report.ModulesInFile);
        Assert.Equal(0, report.Matched);
        Assert.Equal(modules, report.UnmatchedKeys.Count);
        Assert.All(report.UnmatchedKeys, k => Assert.StartsWith("lora_unet_nowhere_", k));
        // What the pipeline would do with it: refuse it, with the same report.
        using var set = LoraAdapterSet.FromModules(TinyPipelines.Folder.Models.Components.Where(kv => kv.Key != "vae").ToDictionary(kv => kv.Key, kv => kv.Value));
        var e = Assert.Throws<LoraMismatchException>(() => set.Add("zero", path));
        Assert.Equal(result.Reports.Select(r => r.ToString()), e.Result.Reports.Select(r => r.ToString()));
    }

    [Theory]
    [InlineData("lora_a.safetensors")]
    [InlineData("lora_c.safetensors")]
    public void TheMatchIsWhatTheLoadedPipelineWouldApply(string lora)
    {
        var result = LoraInspection.Match(LoraPath(lora), Fixtures.TinySgm, Fixtures.TinyConfigDir);
        using var set = LoraAdapterSet.FromModules(TinyPipelines.Folder.Models.Components.Where(kv => kv.Key != "vae").ToDictionary(kv => kv.Key, kv => kv.Value));
        var adapter = set.Add("x", LoraPath(lora));
        Assert.Equal(adapter.ModuleCount, result.MatchedModules);
        Assert.Equal(adapter.Match.Mode, result.Mode);
        Assert.Equal(adapter.Reports.Select(r => r.ToString()), result.Reports.Select(r => r.ToString()));
    }

    [Fact]
    public void DescribeReadsFormatRanksAndAlphasFromTheHeader()
    {
        var a = LoraInspection.Describe(LoraPath("lora_a.safetensors"));
        Assert.Equal(235, a.ModuleCount);
        Assert.Equal(new Dictionary<int, int> { [4] = 235 }, a.Ranks);
        Assert.Equal([2.0], a.Alphas); // case.json: rank 4, alpha 2.0
        Assert.Equal(LoraKeyStyle.Kohya, a.Format.KeyStyle);

        var c = LoraInspection.Describe(LoraPath("lora_c.safetensors"));
        Assert.Equal(217, c.ModuleCount);
        Assert.Empty(c.Alphas); // PEFT without lora_adapter_metadata: alpha = rank
        Assert.Equal(LoraKeyStyle.Peft, c.Format.KeyStyle);

        var e = Assert.Throws<LoraFormatException>(() => LoraInspection.Describe(Fixtures.TinySgm));
        Assert.Contains("tiny_sdxl_sgm.safetensors", e.Message);
    }
}
