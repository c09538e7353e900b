using LcmLora.Lora;
using Xunit;

namespace LcmLora.Tests.Lora;

[Trait("Category", "unit")]
public class LoraFormatDetectionTests
{
    private static readonly string[] AllComponents = [LoraComponents.UNet, LoraComponents.TextEncoder, LoraComponents.TextEncoder2];

    [Theory]
    [InlineData('a', LoraKeyStyle.Kohya, LoraUNetNaming.Sgm, 235)]
    [InlineData('b', LoraKeyStyle.Kohya, LoraUNetNaming.Diffusers, 217)]
    [InlineData('c', LoraKeyStyle.Peft, LoraUNetNaming.None, 217)]
    public void FixtureFilesAreDetected(char format, LoraKeyStyle style, LoraUNetNaming naming, int modules)
    {
        using var file = LoraFile.Open(TinyLoraModel.LoraPath(format));
        Assert.Equal(style, file.Format.KeyStyle);
        Assert.Equal(naming, file.Format.UNetNaming);
        Assert.Equal(LoraAlgorithms.LoRA | LoraAlgorithms.LoCon, file.Format.Algorithms);
        Assert.Equal(AllComponents.Order(), file.Format.Components.Order());
        Assert.Equal(modules, file.Modules.Count);
        Assert.Empty(file.UnrecognizedKeys);
        Assert.All(file.Modules, m => Assert.Null(m.Problem));
        Assert.All(file.Modules, m => Assert.Equal(4, m.Rank));
        // a: alpha 2 (scale 0.5); b: alpha 8 (scale 2); c: no alpha and no metadata, so alpha = rank (scale 1).
        var scale = format switch { 'a' => 0.5, 'b' => 2.0, _ => 1.0 };
        Assert.All(file.Modules, m => Assert.Equal(scale, m.Scale));
    }

    [Theory]
    [InlineData('a', LoraNamingScheme.KohyaSgm)]
    [InlineData('b', LoraNamingScheme.Kohya)]
    public void KohyaKeysResolveToTheReferenceModules(char format, LoraNamingScheme unetScheme)
    {
        using var model = TinyLoraModel.Load();
        using var file = LoraFile.Open(TinyLoraModel.LoraPath(format));
        var map = new LoraNameMap(model.Parameters.ToDictionary(c => c.Key,
            c => (IReadOnlyDictionary<string, long[]>)c.Value.ToDictionary(p => p.Key, p => p.Value.shape)));
        Assert.Empty(map.AmbiguousKeys);
        var result = LoraMatcher.Match(file, map, LoraMatchMode.Strict);
        var expected = TinyLoraModel.KeyToModule(format);
        Assert.Equal(expected.Count, result.Matches.Count);
        foreach (var m in result.Matches)
        {
            Assert.Equal(expected[m.Module.Key] + ".weight", m.Target.ToString());
            var scheme = m.Target.Component == LoraComponents.UNet ? unetScheme : LoraNamingScheme.Kohya;
            Assert.Equal(scheme, m.Target.Scheme);
        }
        Assert.True(result.IsComplete);
        Assert.Equal(expected.Values.Count(v => v.StartsWith("unet.", StringComparison.Ordinal)),
            result.Reports.Single(r => r.Component == LoraComponents.UNet).Matched);
    }

    [Fact]
    public void PeftFileResolvesToTheSameModulesAsItsKohyaTwin()
    {
        using var model = TinyLoraModel.Load();
        var map = new LoraNameMap(model.Parameters.ToDictionary(c => c.Key,
            c => (IReadOnlyDictionary<string, long[]>)c.Value.ToDictionary(p => p.Key, p => p.Value.shape)));
        using var b = LoraFile.Open(TinyLoraModel.LoraPath('b'));
        using var c = LoraFile.Open(TinyLoraModel.LoraPath('c'));
        var fromB = LoraMatcher.Match(b, map).Matches.Select(m => m.Target.ToString()).Order();
        var fromC = LoraMatcher.Match(c, map).Matches;
        Assert.All(fromC, m => Assert.Equal(LoraNamingScheme.Peft, m.Target.Scheme));
        Assert.Equal(fromB, fromC.Select(m => m.Target.ToString()).Order());
    }
}
