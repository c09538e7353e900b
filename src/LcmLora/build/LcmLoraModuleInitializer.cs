// Added to every C# project that references the LcmLora package (buildTransitive/LcmLora.targets).
// Runs before Main so TorchSharp loads on Linux hosts whose libstdc++ is older than GCC 13.2.
// See docs/troubleshooting.md. Opt out with <LcmLoraModuleInitializer>false</LcmLoraModuleInitializer>.
namespace LcmLora.Generated
{
    internal static class LcmLoraNativeRuntimeInitializer
    {
#pragma warning disable CA2255
        [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
        // Never throws: a host that cannot be fixed gets the error, with its remedy, where LcmLora is first used.
        internal static void Initialize() => global::LcmLora.Runtime.NativeRuntime.TryInitialize();
    }
}
