using System.CommandLine;
using TorchSharp;

namespace LcmLora.Cli.Commands;

/// <summary>Options shared by commands that load a model: device, dtype, threads.</summary>
public sealed class ModelOptions
{
    /// <summary>--device cpu|cuda.</summary>
    public Option<string> Device { get; } = new("--device") { Description = "cpu or cuda (needs a TorchSharp CUDA backend package).", DefaultValueFactory = _ => "cpu" };

    /// <summary>--dtype fp32|fp16|bf16.</summary>
    public Option<string> DType { get; } = new("--dtype") { Description = "Compute dtype: fp32 (default; fastest on CPUs), fp16 or bf16 (for CUDA).", DefaultValueFactory = _ => "fp32" };

    /// <summary>--threads N.</summary>
    public Option<int?> Threads { get; } = new("--threads") { Description = "CPU threads (default: physical cores)." };

    /// <summary>Adds the options to a command.</summary>
    public void AddTo(Command command)
    {
        Device.AcceptOnlyFromAmong("cpu", "cuda");
        DType.AcceptOnlyFromAmong("fp32", "fp16", "bf16");
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

    /// <summary>The chosen dtype.</summary>
    public static torch.ScalarType ParseDType(string name) => name switch
    {
        "fp16" => torch.ScalarType.Float16,
        "bf16" => torch.ScalarType.BFloat16,
        _ => torch.ScalarType.Float32,
    };
}
