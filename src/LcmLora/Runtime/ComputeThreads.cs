using TorchSharp;

namespace LcmLora.Runtime;

/// <summary>
/// CPU thread count for libtorch. The default is the number of physical cores: on CPUs with two hardware threads per
/// core, running a thread per logical core makes matrix multiplication slower, not faster.
/// </summary>
public static class ComputeThreads
{
    /// <summary>Physical cores of this machine (Linux: distinct (package, core) pairs in /proc/cpuinfo; elsewhere the logical count).</summary>
    public static int PhysicalCores()
    {
        try
        {
            if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
            {
                string physical = "0";
                var cores = new HashSet<string>();
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    var parts = line.Split(':', 2);
                    if (parts.Length != 2) continue;
                    var key = parts[0].Trim();
                    if (key == "physical id") physical = parts[1].Trim();
                    else if (key == "core id") cores.Add(physical + "/" + parts[1].Trim());
                }
                if (cores.Count > 0) return Math.Min(cores.Count, Environment.ProcessorCount);
            }
        }
        catch (IOException)
        {
        }
        return Environment.ProcessorCount;
    }

    /// <summary>Sets libtorch's intra-op threads (null: the physical core count). Returns the count set.</summary>
    /// <exception cref="LcmLoraInputException">The count is not positive.</exception>
    public static int Apply(int? threads = null)
    {
        NativeRuntime.EnsureInitialized();
        var n = threads ?? PhysicalCores();
        if (n < 1) throw new LcmLoraInputException($"Thread count must be at least 1; got {n}.");
        torch.set_num_threads(n);
        return n;
    }
}
