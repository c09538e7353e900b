using System.CommandLine;
using LcmLora.Runtime;
using TorchSharp;

namespace LcmLora.Cli.Commands;

/// <summary>Options shared by commands that load a model: device, dtype, threads.</summary>
public sealed class ModelOptions
{
    /// <summary>--device cpu|cuda.</summary>
    public Option<string> Device { get; } = new("--device") { Description = "cpu or cuda (needs a TorchSharp CUDA backend package).", DefaultValueFactory = _ => "cpu" };

    /// <summary>--dtype auto|fp32|bf16|fp16.</summary>
    public Option<string> DType { get; } = new("--dtype")
    {
        Description = "Compute dtype: auto (default: bf16 on CPUs with AVX512_BF16/AMX-BF16 and on bf16 CUDA devices, fp16 on other CUDA devices, else fp32), fp32, bf16 or fp16.",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>--threads N.</summary>
    public Option<int?> Threads { get; } = new("--threads") { Description = "CPU threads (default: physical cores)." };

    /// <summary>Adds the options to a command.</summary>
    public void AddTo(Command command)
    {
        Device.AcceptOnlyFromAmong("cpu", "cuda");
        DType.AcceptOnlyFromAmong("auto", "fp32", "bf16", "fp16");
        command.Add(Device);
        command.Add(DType);
        command.Add(Threads);
    }

    /// <summary>The chosen device; CUDA must be available.</summary>
    public static torch.Device ParseDevice(string name)
    {
        if (name != "cuda") return torch.CPU;
        if (!torch.cuda.is_available())
            throw new LcmLoraInputException("--device cuda: CUDA is not available. Reference TorchSharp-cuda-linux or TorchSharp-cuda-windows instead of TorchSharp-cpu and run on a machine with an NVIDIA GPU (see docs/cuda.md).");
        return torch.CUDA;
    }

    /// <summary>The chosen precision.</summary>
    public static ComputePrecision ParseDType(string name) => ComputePrecisions.Parse(name);
}
