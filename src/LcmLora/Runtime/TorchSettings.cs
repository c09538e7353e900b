using System.Runtime.InteropServices;

namespace LcmLora.Runtime;

/// <summary>
/// libtorch settings TorchSharp does not expose, set through libtorch's own exported functions once libtorch is loaded.
/// </summary>
/// <remarks>
/// NNPACK: libtorch's convolution dispatch asks whether NNPACK could run a convolution before choosing the kernel,
/// and on CPUs NNPACK does not support (AVX-512 EPYCs among them) every such probe logs
/// "Could not initialize NNPACK! Reason: Unsupported hardware." (142 lines for one 4-step SDXL image). The
/// user-level switch, <c>at::globalContext().setUserEnabledNNPACK(false)</c> (Python:
/// <c>torch.backends.nnpack.set_flags(False)</c>), is checked first, so with it off NNPACK is never probed. No
/// convolution used here is run by NNPACK on any CPU (it only takes batch-1 float32 convolutions on hosts it supports,
/// where oneDNN is as fast), so results are unchanged. Hand-written because TorchSharp 0.107 has no binding for it.
/// </remarks>
internal static class TorchSettings
{
    private const string LibTorchCpu = "libtorch_cpu.so";
    private const string GlobalContext = "_ZN2at13globalContextEv";
    private const string SetUserEnabledNnpack = "_ZN2at7Context20setUserEnabledNNPACKEb";

    /// <summary>
    /// Turns NNPACK off when libtorch is loaded in this process. Returns false when libtorch is not loaded yet (call
    /// again later), true when done or when there is nothing to do (not Linux, an older libtorch without the switch).
    /// </summary>
    public static unsafe bool TryDisableNnpack()
    {
        if (!OperatingSystem.IsLinux()) return true;
        // RTLD_NOLOAD: only a library that is already loaded (by TorchSharp) is returned; this never loads libtorch.
        var handle = NativeRuntime.OpenLoaded(LibTorchCpu);
        if (handle == IntPtr.Zero) return false;
        if (!NativeLibrary.TryGetExport(handle, GlobalContext, out var context) || !NativeLibrary.TryGetExport(handle, SetUserEnabledNnpack, out var set))
            return true;
        var ctx = ((delegate* unmanaged<IntPtr>)context)();
        ((delegate* unmanaged<IntPtr, byte, void>)set)(ctx, 0);
        return true;
    }
}
