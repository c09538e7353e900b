using LcmLora.IO;
using LcmLora.Pipelines;
using LcmLora.Pipelines.Decoding;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Pipelines;

/// <summary>Replacement decoders are detected from their keys: TAESD-XL, or an AutoencoderKL in any naming.</summary>
[Trait("Category", "parity")]
public class LatentDecodersTests : TempDirectoryTest
{
    [Fact]
    public void DetectsTaesdAndAutoencoderKlFolders()
    {
        Assert.IsType<TaesdLatentDecoder>(LatentDecoders.Load(Fixtures.Path("taesd", "diffusers")));
        Assert.IsType<TaesdLatentDecoder>(LatentDecoders.Load(Fixtures.Path("taesd", "original", "taesdxl_decoder.safetensors")));
        Assert.IsType<VaeLatentDecoder>(LatentDecoders.Load(Fixtures.Path("tiny-sdxl", "diffusers", "vae")));
    }

    [Fact]
    public void AStandaloneVaeFileInOriginalNamingDecodesLikeTheCheckpointVae()
    {
        // An "sdxl_vae.safetensors"-style file: the first_stage_model.* tensors without the prefix, config.json beside it.
        using (var single = SafeTensorsFile.Open(Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors")))
        {
            var writer = new SafeTensorsWriter();
            foreach (var t in single.Tensors.Where(t => t.Name.StartsWith("first_stage_model.", StringComparison.Ordinal)))
                writer.AddRaw(single, t.Name, t.Name["first_stage_model.".Length..]);
            writer.Save(TempPath("vae.safetensors"));
        }
        File.Copy(Fixtures.Path("tiny-sdxl", "diffusers", "vae", "config.json"), TempPath("config.json"));
        var replacement = LatentDecoders.Load(TempPath("vae.safetensors"));
        var pipeline = TinyPipelines.Folder;
        var request = new GenerationRequest { Prompt = "a lighthouse on a cliff at sunset", Seed = 2024, Width = 48, Height = 32, ReturnTensors = true };
        using var plain = pipeline.Generate(request);
        var original = pipeline.Decoder;
        pipeline.Decoder = replacement;
        try
        {
            using var swapped = pipeline.Generate(request);
            TensorAssert.Identical(plain.ImageTensor!, swapped.ImageTensor!);
        }
        finally { pipeline.Decoder = original; }
    }

    [Fact]
    public void NeitherKindIsBadInput()
    {
        var e = Assert.ThrowsAny<LcmLoraInputException>(() => LatentDecoders.Load(Fixtures.Path("lora", "lora_a.safetensors")));
        Assert.Contains("neither", e.Message);
    }

    [Fact]
    public void TiledDecodingIsUsedOnlyWhenAskedOrAboveTheThreshold()
    {
        var decoder = new VaeLatentDecoder(TinyPipelines.Folder.Models.Vae);
        using var inference = torch.inference_mode();
        using var latents = torch.randn(1, 4, 20, 20, generator: new torch.Generator(3));
        using var auto = decoder.Decode(latents);
        using var off = decoder.Decode(latents, VaeTiling.Off);
        using var on = decoder.Decode(latents, VaeTiling.On, tileSize: 16);
        TensorAssert.Identical(off, auto);
        Assert.False(TensorAssert.AreIdentical(off, on));
    }
}
