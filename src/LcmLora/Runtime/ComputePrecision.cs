namespace LcmLora.Runtime;

/// <summary>The floating-point type the models compute in (<see cref="Pipelines.PipelineOptions.Precision"/>).</summary>
public enum ComputePrecision
{
    /// <summary>
    /// Chosen from the hardware (<see cref="ComputePrecisions.Choose(ComputePrecision, TorchSharp.torch.Device?)"/>):
    /// bfloat16 on CPUs with native bf16 dot products (AVX512_BF16 or AMX-BF16) and on CUDA devices that support it,
    /// float16 on other CUDA devices, float32 everywhere else.
    /// </summary>
    Auto,

    /// <summary>float32: exact parity with the reference; on CPUs without bf16 instructions the fastest.</summary>
    Float32,

    /// <summary>bfloat16 weights and activations (half the memory); fast only where the hardware has bf16 dot products.</summary>
    BFloat16,

    /// <summary>float16 weights and activations; for CUDA (CPUs have no fast fp16 matrix kernels). The VAE stays float32 when its config sets force_upcast.</summary>
    Float16,
}
