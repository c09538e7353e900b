using System.Text.Json;
using LcmLora.Checkpoints;
using LcmLora.Lora;
using Xunit;
using Xunit.Abstractions;

namespace LcmLora.Tests.Lora;

/// <summary>The full-size rank-64 LCM-LoRA layout against the full-size SDXL names and shapes (manifests, no weights).</summary>
[Trait("Category", "unit")]
public class LoraFullSizeManifestTests(ITestOutputHelper output)
{
    private static List<(string Key, long[] Shape)> LcmLoraManifest()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("manifests", "lcm-lora-sdxl-kohya-rank64.json")));
        return doc.RootElement.GetProperty("tensors").EnumerateObject()
            .Select(p => (p.Name, p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray())).ToList();
    }

    private static LoraNameMap FullSizeMap() => new(LoraComponents.All.ToDictionary(c => c, Manifests.Diffusers));

    [Fact]
    public void EveryModuleOfTheReleasedLayoutMatchesTheFullSizeUNet()
    {
        var map = FullSizeMap();
        Assert.Empty(map.AmbiguousKeys);
        var file = LoraFile.FromHeader("lcm-lora-sdxl-kohya-rank64 (manifest)", LcmLoraManifest());
        Assert.Equal(LoraKeyStyle.Kohya, file.Format.KeyStyle);
        Assert.Equal(LoraUNetNaming.Diffusers, file.Format.UNetNaming);
        Assert.Equal(LoraAlgorithms.LoRA | LoraAlgorithms.LoCon, file.Format.Algorithms);
        Assert.Equal([LoraComponents.UNet], file.Format.Components);

        var result = LoraMatcher.Match(file, map, LoraMatchMode.Strict);
        var unet = result.Reports.Single(r => r.Component == LoraComponents.UNet);
        output.WriteLine(unet.ToString());
        Assert.Equal(788, unet.ModulesInFile);
        Assert.Equal(788, unet.Matched);
        Assert.True(result.IsComplete);
        Assert.All(result.Matches, m => Assert.Equal(LoraNamingScheme.Kohya, m.Target.Scheme));
        Assert.All(result.Matches, m => Assert.Equal(64, m.Module.Rank));
        Assert.Equal(788, result.Matches.Select(m => m.Target.Parameter).Distinct().Count());
        var parameters = result.Matches.Sum(m => LoraModule.Product(m.Module.ShapeOf(LoraTensorRole.Down), 0) + LoraModule.Product(m.Module.ShapeOf(LoraTensorRole.Up), 0));
        Assert.Equal(196_751_360, parameters);
    }

    [Fact]
    public void TheSameModulesUnderSgmNamesMatchToo()
    {
        var ours = Manifests.Diffusers(LoraComponents.UNet);
        var map = FullSizeMap();
        var diffusersNamed = LoraMatcher.Match(LoraFile.FromHeader("diffusers-named", LcmLoraManifest()), map, LoraMatchMode.Strict);

        // Render each matched module into its SGM name through the checkpoint map (proven against the SGM manifest).
        var sgmManifest = Manifests.Sgm();
        var checkpointMap = new UNetSgmNames(ours.Keys, layersPerBlock: 2).CheckpointMap(ours.Keys);
        var renamed = new List<(string Key, long[] Shape)>();
        var expectedTargets = new Dictionary<string, string>();
        foreach (var m in diffusersNamed.Matches)
        {
            var sgmKey = checkpointMap.Entries[m.Target.Parameter].Key;
            Assert.True(sgmManifest.TryGetValue(sgmKey, out var sgmShape), sgmKey);
            Assert.Equal(ours[m.Target.Parameter], sgmShape);
            var module = "lora_unet_" + sgmKey[UNetSgmNames.CheckpointPrefix.Length..^".weight".Length].Replace('.', '_');
            expectedTargets[module] = m.Target.Parameter;
            foreach (var (role, key) in m.Module.TensorKeys)
                renamed.Add((module + key[m.Module.Key.Length..], role == LoraTensorRole.Alpha ? [] : m.Module.ShapeOf(role)));
        }
        var file = LoraFile.FromHeader("sgm-named", renamed);
        Assert.Equal(LoraUNetNaming.Sgm, file.Format.UNetNaming);
        var result = LoraMatcher.Match(file, map, LoraMatchMode.Strict);
        var unet = result.Reports.Single(r => r.Component == LoraComponents.UNet);
        output.WriteLine(unet.ToString());
        Assert.Equal(788, unet.Matched);
        Assert.True(result.IsComplete);
        Assert.All(result.Matches, m => Assert.Equal(LoraNamingScheme.KohyaSgm, m.Target.Scheme));
        Assert.All(result.Matches, m => Assert.Equal(expectedTargets[m.Module.Key], m.Target.Parameter));
    }
}
