using System.Runtime.InteropServices;

namespace LcmLora.Runtime;

/// <summary>
/// Whether a CUDA device computes bf16 natively (compute capability 8.0 or newer: Ampere and later), asked from the
/// CUDA runtime (<c>cudaDeviceGetAttribute</c>) because TorchSharp exposes no device capability. Null when the
/// runtime library cannot be found or does not answer; the caller then falls back to fp16, which every CUDA GPU runs.
/// Hand-written because no served .NET package wraps this one CUDA call.
/// </summary>
internal static class CudaBf16Support
{
    private const int ComputeCapabilityMajorAttribute = 75; // cudaDevAttrComputeCapabilityMajor

    private static readonly string[] RuntimeNames =
        ["libcudart.so.12", "libcudart.so.11.0", "libcudart.so", "cudart64_12.dll", "cudart64_110.dll"];

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int DeviceGetAttribute(out int value, int attribute, int device);

    /// <summary>True for compute capability >= 8, false below, null when unknown.</summary>
    public static bool? IsSupported(int deviceIndex)
    {
        try
        {
            foreach (var name in RuntimeNames)
            {
                if (!NativeLibrary.TryLoad(name, out var handle)) continue;
                if (!NativeLibrary.TryGetExport(handle, "cudaDeviceGetAttribute", out var export)) continue;
                var call = Marshal.GetDelegateForFunctionPointer<DeviceGetAttribute>(export);
                return call(out var major, ComputeCapabilityMajorAttribute, Math.Max(0, deviceIndex)) == 0 ? major >= 8 : null;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
        }
        return null;
    }
}
