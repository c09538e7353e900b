using LcmLora.Checkpoints.Taesd;
using LcmLora.IO;
using LcmLora.Models.Taesd;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Taesd;

/// <summary>TAESD-XL decode and encode against diffusers' AutoencoderTiny (fixtures/taesd), from both layouts.</summary>
[Trait("Category", "parity")]
public class AutoencoderTinyParityTests(ITestOutputHelper log)
{
    public static TheoryData<string> Layouts => new() { "diffusers", "original" };

    private static string PathOf(string layout) => layout == "diffusers" ? TaesdFixture.DiffusersFolder : TaesdFixture.OriginalFolder;

    [Theory]
    [MemberData(nameof(Layouts))]
    public void DecodeMatchesDiffusers(string layout)
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var data = SafeTensorsFile.Open(TaesdFixture.Data);
        using var model = TaesdCheckpoint.Load(PathOf(layout));
        Assert.Equal(TaesdParts.Both, model.Parts);
        var image = model.Decode(data.Read("latents"));
        Close(data.Read("decoded_image"), image, $"decode ({layout})");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void EncodeMatchesDiffusers(string layout)
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var data = SafeTensorsFile.Open(TaesdFixture.Data);
        using var model = TaesdCheckpoint.Load(PathOf(layout));
        var latents = model.Encode(data.Read("image_in"));
        Close(data.Read("encoded_latents"), latents, $"encode ({layout})");
    }

    [Fact]
    public void DecoderFileAloneDecodesAndPreviews()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var data = SafeTensorsFile.Open(TaesdFixture.Data);
        using var model = TaesdCheckpoint.Load(TaesdFixture.DecoderFile);
        Assert.Equal(TaesdParts.Decoder, model.Parts);
        Assert.False(model.HasEncoder);
        Assert.All(model.state_dict().Keys, k => Assert.StartsWith("decoder.layers.", k));
        var expected = data.Read("decoded_image");
        Close(expected, model.Decode(data.Read("latents")), "decode (decoder file alone)");

        var preview = model.Preview(data.Read("latents"));
        Assert.True(preview.min().item<float>() >= 0f && preview.max().item<float>() <= 1f, "preview in [0, 1]");
        Close((expected / 2 + 0.5).clamp(0, 1), preview, "preview");

        var e = Assert.Throws<TaesdInputException>(() => model.Encode(data.Read("image_in")));
        Assert.Contains("no encoder", e.Message);
    }

    [Fact]
    public void EncoderFileAloneEncodes()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var data = SafeTensorsFile.Open(TaesdFixture.Data);
        using var model = TaesdCheckpoint.Load(TaesdFixture.EncoderFile);
        Assert.Equal(TaesdParts.Encoder, model.Parts);
        Close(data.Read("encoded_latents"), model.Encode(data.Read("image_in")), "encode (encoder file alone)");
        Assert.Throws<TaesdInputException>(() => model.Decode(data.Read("latents")));
        Assert.Throws<TaesdInputException>(() => model.Preview(data.Read("latents")));
    }

    [Fact]
    public void ForwardDecodesAndInputsAreConverted()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var data = SafeTensorsFile.Open(TaesdFixture.Data);
        using var model = TaesdCheckpoint.Load(TaesdFixture.DiffusersFolder);
        var latents = data.Read("latents");
        var decoded = model.Decode(latents);
        TensorAssert.Identical(decoded, model.call(latents), "forward");
        // Float64 input is moved to the parameters' dtype.
        var fromDouble = model.Decode(latents.to(ScalarType.Float64));
        Assert.Equal(ScalarType.Float32, fromDouble.dtype);
        TensorAssert.Identical(decoded, fromDouble, "float64 input");
    }

    private void Close(Tensor expected, Tensor actual, string what)
    {
        using var scope = NewDisposeScope();
        var diff = (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max().item<double>();
        log.WriteLine($"{what}: max |diff| = {diff:E3} (max |ref| = {expected.abs().max().item<float>():F4})");
        TensorAssert.Close(expected, actual, 1e-4, what);
    }
}
