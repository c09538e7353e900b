// LcmLora quick start: an SDXL checkpoint + the LCM-LoRA + a style LoRA -> a PNG in four steps.
using LcmLora.Imaging;
using LcmLora.Pipelines;

if (args.Length is < 4 or > 6)
{
    Console.Error.WriteLine("""
        usage: LcmLora.QuickStart <sdxl.safetensors> <lcm-lora.safetensors> <style-lora.safetensors> "<prompt>" [out.png] [size]
          sdxl.safetensors         an SDXL base or fine-tune, single file (original layout) or diffusers folder
          lcm-lora.safetensors     the LCM-LoRA for SDXL (latent-consistency/lcm-lora-sdxl), applied at weight 1.0
          style-lora.safetensors   any SDXL LoRA, applied at weight 0.8
          out.png                  where to write the image (default: out.png)
          size                     width and height in pixels, a multiple of 32 (default: the model's native size)
        """);
    return 2;
}
var (modelPath, lcmPath, stylePath, prompt) = (args[0], args[1], args[2], args[3]);
var outPath = args.Length > 4 ? args[4] : "out.png";
int? size = args.Length > 5 ? int.Parse(args[5]) : null;

// Precision Auto by default: bf16 on CPUs with AVX512_BF16/AMX-BF16, else fp32; with a CUDA backend package:
// new PipelineOptions { Device = TorchSharp.torch.CUDA } (bf16 or fp16 by device), or Precision = ComputePrecision.Float32 for exact parity.
using var pipe = SdxlPipeline.Load(modelPath, new PipelineOptions());
pipe.Loras.Add("lcm", lcmPath, 1.0);     // the few-step ability
pipe.Loras.Add("style", stylePath, 0.8); // your style, at 80 %
pipe.Loras.Fuse();                       // bake both into the weights: no per-step LoRA cost

using var result = pipe.Generate(new GenerationRequest { Prompt = prompt, Steps = 4, Seed = 42, Width = size, Height = size });
PngCodec.Save(result.Images[0], outPath);
Console.WriteLine($"{outPath}: {result.Images[0].Width}x{result.Images[0].Height}, seed {result.Seed}, {result.Elapsed.TotalSeconds:F1} s");
return 0;
