using LcmLora.IO;
using LcmLora.Lora;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace LcmLora.Tests.Lora;

/// <summary>Fused weights against the diffusers/PEFT reference (fixtures/lora), for each format and scale, and combined.</summary>
[Trait("Category", "parity")]
public class LoraFixtureParityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData('a', 1.0, "fmt_a_scale_1_0")]
    [InlineData('a', 0.5, "fmt_a_scale_0_5")]
    [InlineData('b', 1.0, "fmt_b_scale_1_0")]
    [InlineData('b', 0.5, "fmt_b_scale_0_5")]
    [InlineData('c', 1.0, "fmt_c_scale_1_0")]
    [InlineData('c', 0.5, "fmt_c_scale_0_5")]
    public void FusedWeightsMatchTheReference(char format, double scale, string caseName)
    {
        using var model = TinyLoraModel.Load();
        var before = model.Snapshot();
        using var set = new LoraAdapterSet(model.Components);
        var adapter = set.Add("fmt", TinyLoraModel.LoraPath(format), scale);
        Assert.All(adapter.Reports, r => Assert.True(r.IsComplete, r.ToString()));
        set.Fuse();

        var maxDiff = CompareFused(model, Fixtures.Path("lora", caseName, "outputs.safetensors"));
        output.WriteLine($"{caseName}: max |ours - reference| over fused.* = {maxDiff:E3}");

        // The touched modules are exactly the reference's (key_to_module of a; b and c adapt the same modules).
        var expected = TinyLoraModel.KeyToModule(format == 'a' ? 'a' : 'b').Values.Select(m => m + ".weight").Order().ToList();
        var touched = set.FusedParameters.SelectMany(kv => kv.Value.Select(p => kv.Key + "." + p)).Order().ToList();
        Assert.Equal(expected, touched);

        // Every other tensor is untouched; every touched one equals W + s * (alpha/r) * up @ down.
        var maxFormula = 0.0;
        using (var lora = SafeTensorsFile.Open(TinyLoraModel.LoraPath(format)))
        {
            foreach (var (component, parameters) in model.Parameters)
                foreach (var (name, t) in parameters)
                {
                    var qualified = component + "." + name;
                    if (!touched.Contains(qualified))
                    {
                        TensorAssert.Identical(before[component][name], t, qualified);
                        continue;
                    }
                    using var e = ExpectedKohyaOrPeft(lora, format, component, name, before[component][name], scale);
                    TensorAssert.Close(e, t, 1e-5, qualified);
                    maxFormula = Math.Max(maxFormula, MaxAbsDiff(e, t));
                }
        }
        output.WriteLine($"{caseName}: {touched.Count} fused weights, max |ours - formula| = {maxFormula:E3}");

        set.Unfuse();
        Assert.Null(model.FirstDifference(before));
        TinyLoraModel.DisposeAll(before);
    }

    [Fact]
    public void LcmPlusStyleFuseMatchesTheReferenceAndUnfuseRestoresOriginalsBitwise()
    {
        using var model = TinyLoraModel.Load();
        var before = model.Snapshot();
        using var set = new LoraAdapterSet(model.Components);
        set.Add("lcm", TinyLoraModel.LoraPath('b'), 1.0);
        set.Add("style", TinyLoraModel.LoraPath('a'), 0.8);
        set.Fuse();
        var file = Fixtures.Path("lora", "combined_lcm_style", "outputs.safetensors");
        var maxDiff = CompareFused(model, file);
        output.WriteLine($"combined: max |ours - reference| over fused.* = {maxDiff:E3}");

        var union = TinyLoraModel.KeyToModule('a').Values.Concat(TinyLoraModel.KeyToModule('b').Values).Select(m => m + ".weight").Distinct().Order().ToList();
        Assert.Equal(union, set.FusedParameters.SelectMany(kv => kv.Value.Select(p => kv.Key + "." + p)).Order().ToList());

        set.Unfuse();
        Assert.Null(model.FirstDifference(before));
        using (var reference = SafeTensorsFile.Open(file))
        {
            foreach (var info in reference.Tensors.Where(t => t.Name.StartsWith("original.", StringComparison.Ordinal)))
            {
                var (component, name) = TinyLoraModel.SplitComponent(info.Name["original.".Length..]);
                using var e = reference.Read(info.Name);
                TensorAssert.Identical(e, model.Parameters[component][name], info.Name);
            }
        }
        TinyLoraModel.DisposeAll(before);
    }

    [Fact]
    public void ChangingAWeightWhileFusedRefusesFromOriginalsWithoutTheFile()
    {
        using var model = TinyLoraModel.Load();
        using var set = new LoraAdapterSet(model.Components);
        using (var lcm = LoraFile.Open(TinyLoraModel.LoraPath('b'))) set.Add("lcm", lcm, 1.0);
        using (var style = LoraFile.Open(TinyLoraModel.LoraPath('a'))) set.Add("style", style, 0.3);
        set.Fuse();
        set.SetWeight("style", 0.8); // files are closed: the factors must come from memory
        Assert.True(set.IsFused);
        var maxDiff = CompareFused(model, Fixtures.Path("lora", "combined_lcm_style", "outputs.safetensors"));
        output.WriteLine($"re-fused after SetWeight: max |ours - reference| = {maxDiff:E3}");
    }

    [Theory]
    [InlineData(torch.ScalarType.Float16)]
    [InlineData(torch.ScalarType.BFloat16)]
    public void HalfPrecisionWeightsAreFusedInFloat32AndRoundedOnce(torch.ScalarType dtype)
    {
        using var model = TinyLoraModel.Load();
        foreach (var parameters in model.Parameters.Values)
            foreach (var name in parameters.Keys.ToList())
            {
                var half = parameters[name].to(dtype);
                parameters[name].Dispose();
                parameters[name] = half;
            }
        var before = model.Snapshot();
        using var set = new LoraAdapterSet(model.Components);
        set.Add("lcm", TinyLoraModel.LoraPath('b'), 1.0);
        set.Add("style", TinyLoraModel.LoraPath('a'), 0.8);
        set.Fuse();
        using (var reference = SafeTensorsFile.Open(Fixtures.Path("lora", "combined_lcm_style", "outputs.safetensors")))
        {
            foreach (var info in reference.Tensors.Where(t => t.Name.StartsWith("fused.", StringComparison.Ordinal)))
            {
                var (component, name) = TinyLoraModel.SplitComponent(info.Name["fused.".Length..]);
                var actual = model.Parameters[component][name];
                Assert.Equal(dtype, actual.dtype);
                // The fp32 reference rounded once to the half type is what one rounding of an fp32 sum gives
                // (the fp32 sums agree to ~1e-7, far below half precision, so they round alike almost everywhere).
                using var e = reference.Read(info.Name).to(dtype);
                using var diff = (actual.to(torch.ScalarType.Float32) - e.to(torch.ScalarType.Float32)).abs().max();
                using var ulp = e.to(torch.ScalarType.Float32).abs().max();
                var tolerance = (dtype == torch.ScalarType.Float16 ? 1.0 / 1024 : 1.0 / 128) * Math.Max(1.0, ulp.item<float>());
                Assert.True(diff.item<float>() <= tolerance, $"{info.Name}: {diff.item<float>()} > {tolerance}");
            }
        }
        set.Unfuse();
        Assert.Null(model.FirstDifference(before));
        TinyLoraModel.DisposeAll(before);
    }

    /// <summary>Compares every fused.* tensor of a reference file with our weights (1e-5 relative); returns the max abs diff.</summary>
    private static double CompareFused(TinyLoraModel model, string referenceFile)
    {
        using var reference = SafeTensorsFile.Open(referenceFile);
        var max = 0.0;
        var count = 0;
        foreach (var info in reference.Tensors.Where(t => t.Name.StartsWith("fused.", StringComparison.Ordinal)))
        {
            var (component, name) = TinyLoraModel.SplitComponent(info.Name["fused.".Length..]);
            using var e = reference.Read(info.Name);
            var a = model.Parameters[component][name];
            TensorAssert.Close(e, a, 1e-5, info.Name);
            max = Math.Max(max, MaxAbsDiff(e, a));
            count++;
        }
        Assert.True(count >= 5, $"{referenceFile}: only {count} fused tensors");
        return max;
    }

    private static double MaxAbsDiff(torch.Tensor e, torch.Tensor a)
    {
        using var d = (a.to(torch.ScalarType.Float64) - e.to(torch.ScalarType.Float64)).abs().max();
        return d.item<double>();
    }

    /// <summary>The expected fused weight, computed directly from the file's tensors (kohya a/b or PEFT c).</summary>
    private static torch.Tensor ExpectedKohyaOrPeft(SafeTensorsFile lora, char format, string component, string name, torch.Tensor original, double scale)
    {
        using var scope = torch.NewDisposeScope();
        var module = name[..^".weight".Length];
        string downKey, upKey;
        double alphaOverRank;
        if (format == 'c')
        {
            downKey = $"{component}.{module}.lora_A.weight";
            upKey = $"{component}.{module}.lora_B.weight";
            alphaOverRank = 1.0;
        }
        else
        {
            var key = TinyLoraModel.KeyToModule(format).Single(kv => kv.Value == component + "." + module).Key;
            downKey = key + ".lora_down.weight";
            upKey = key + ".lora_up.weight";
            var alpha = lora.Read(key + ".alpha").to(torch.ScalarType.Float64).item<double>();
            alphaOverRank = alpha / lora.Info(downKey).Shape[0];
        }
        var down = lora.Read(downKey).to(torch.ScalarType.Float64);
        var up = lora.Read(upKey).to(torch.ScalarType.Float64);
        var delta = up.reshape(up.shape[0], -1).matmul(down.reshape(down.shape[0], -1)).reshape(original.shape);
        return (original.to(torch.ScalarType.Float64) + delta * (scale * alphaOverRank)).to(torch.ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
