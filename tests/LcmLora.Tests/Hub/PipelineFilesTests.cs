using LcmLora.Hub;
using Xunit;

namespace LcmLora.Tests.Hub;

[Trait("Category", "unit")]
public class PipelineFilesTests
{
    // The file list of stabilityai/stable-diffusion-xl-base-1.0 (its siblings): every format the repo ships.
    private static readonly string[] SdxlBase =
    [
        ".gitattributes", "01.png", "LICENSE.md", "README.md", "model_index.json", "sd_xl_base_1.0.safetensors", "sd_xl_base_1.0_0.9vae.safetensors",
        "sd_xl_offset_example-lora_1.0.safetensors", "scheduler/scheduler_config.json",
        "text_encoder/config.json", "text_encoder/flax_model.msgpack", "text_encoder/model.fp16.safetensors", "text_encoder/model.onnx",
        "text_encoder/model.safetensors", "text_encoder/openvino_model.bin", "text_encoder/openvino_model.xml",
        "text_encoder_2/config.json", "text_encoder_2/flax_model.msgpack", "text_encoder_2/model.fp16.safetensors", "text_encoder_2/model.onnx",
        "text_encoder_2/model.onnx_data", "text_encoder_2/model.safetensors", "text_encoder_2/openvino_model.bin", "text_encoder_2/openvino_model.xml",
        "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
        "tokenizer_2/merges.txt", "tokenizer_2/special_tokens_map.json", "tokenizer_2/tokenizer_config.json", "tokenizer_2/vocab.json",
        "unet/config.json", "unet/diffusion_flax_model.msgpack", "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors",
        "unet/model.onnx", "unet/model.onnx_data", "unet/openvino_model.bin", "unet/openvino_model.xml",
        "vae/config.json", "vae/diffusion_flax_model.msgpack", "vae/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors",
        "vae_1_0/config.json", "vae_1_0/diffusion_pytorch_model.fp16.safetensors", "vae_1_0/diffusion_pytorch_model.safetensors",
        "vae_decoder/config.json", "vae_decoder/model.onnx", "vae_decoder/openvino_model.bin", "vae_decoder/openvino_model.xml",
        "vae_encoder/config.json", "vae_encoder/model.onnx",
    ];

    private static readonly HashSet<string> Components = ["scheduler", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae"];

    private static readonly string[] Configs =
    [
        "model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json", "text_encoder_2/config.json",
        "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
        "tokenizer_2/merges.txt", "tokenizer_2/special_tokens_map.json", "tokenizer_2/tokenizer_config.json", "tokenizer_2/vocab.json",
        "unet/config.json", "vae/config.json",
    ];

    [Theory]
    [InlineData(null, "")]
    [InlineData("fp16", ".fp16")]
    [InlineData("bf16", "")] // a variant the repo does not have: full precision, as diffusers falls back
    public void SdxlBaseGetsItsConfigsAndOneSafetensorsVariant(string? variant, string suffix)
    {
        var expected = Configs.Concat(
        [
            $"text_encoder/model{suffix}.safetensors", $"text_encoder_2/model{suffix}.safetensors",
            $"unet/diffusion_pytorch_model{suffix}.safetensors", $"vae/diffusion_pytorch_model{suffix}.safetensors",
        ]).Order(StringComparer.Ordinal);
        var selected = PipelineFiles.ForDiffusers(SdxlBase, Components, variant);
        Assert.Equal(expected, selected.Order(StringComparer.Ordinal));
        Assert.Equal("model_index.json", selected[0]);
    }

    [Fact]
    public void ShardedWeightsComeWithTheirIndexOfTheChosenVariant()
    {
        string[] files =
        [
            "model_index.json", "unet/config.json", "unet/diffusion_pytorch_model-00001-of-00002.safetensors", "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
            "unet/diffusion_pytorch_model.safetensors.index.json", "unet/diffusion_pytorch_model.fp16-00001-of-00001.safetensors",
            "unet/diffusion_pytorch_model.safetensors.index.fp16.json", "unet/diffusion_pytorch_model.bin.index.json",
        ];
        Assert.Equal(["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
            "unet/diffusion_pytorch_model-00002-of-00002.safetensors", "unet/diffusion_pytorch_model.safetensors.index.json"],
            PipelineFiles.ForDiffusers(files, new HashSet<string> { "unet" }, null));
        Assert.Equal(["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.fp16-00001-of-00001.safetensors",
            "unet/diffusion_pytorch_model.safetensors.index.fp16.json"],
            PipelineFiles.ForDiffusers(files, new HashSet<string> { "unet" }, "fp16"));
    }

    [Fact]
    public void OtherReposLoseOnlyPicklesAndForeignFormats()
    {
        string[] lora = [".gitattributes", "README.md", "image.png", "pytorch_lora_weights.safetensors", "pytorch_lora_weights.bin", "model.ckpt", "flax/x.msgpack"];
        Assert.Equal([".gitattributes", "README.md", "image.png", "pytorch_lora_weights.safetensors"], PipelineFiles.ForOtherRepo(lora));
    }

    [Fact]
    public void ComponentsAreTheModelIndexEntriesWithALibraryAndClass()
    {
        var components = PipelineFiles.Components(File.ReadAllText(Fixtures.Path("tiny-sdxl", "diffusers", "model_index.json")));
        Assert.Equal(Components.Order(), components.Order());
    }
}
