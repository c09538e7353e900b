// Parity and model tests allocate native tensors; run test classes one at a time so peak memory stays low
// and thread counts are predictable on small CI machines.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace LcmLora.Tests
{
    /// <summary>
    /// The tiny test models run on one intra-op thread: on a busy machine, libgomp workers spin-wait for descheduled
    /// peers and a multi-threaded tiny matmul is slower, not faster. Set <c>LCMLORA_THREADS</c> to override; child
    /// processes (CLI, packaged apps) inherit it. Tests about threading pass their own count.
    /// </summary>
    internal static class TestThreads
    {
#pragma warning disable CA2255
        [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
        internal static void OneIntraOpThread()
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(LcmLora.Runtime.ComputeThreads.EnvironmentVariable)))
                Environment.SetEnvironmentVariable(LcmLora.Runtime.ComputeThreads.EnvironmentVariable, "1");
            LcmLora.Runtime.NativeRuntime.EnsureInitialized(); // module initializers run in no promised order
            LcmLora.Runtime.ComputeThreads.Apply();
        }
    }
}
