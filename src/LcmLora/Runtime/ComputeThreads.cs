using TorchSharp;

namespace LcmLora.Runtime;

/// <summary>
/// CPU thread count for libtorch. The default is the number of physical cores: on CPUs with two hardware threads per
/// core, running a thread per logical core makes matrix multiplication slower, not faster. The environment variable
/// <c>LCMLORA_THREADS</c> replaces that default (a test run or a machine shared with other jobs sets it to 1).
/// </summary>
public static class ComputeThreads
{
    /// <summary>The environment variable that sets the default thread count.</summary>
    public const string EnvironmentVariable = "LCMLORA_THREADS";

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

    /// <summary>The count used when none is given: <c>LCMLORA_THREADS</c> when set, else <see cref="PhysicalCores"/>.</summary>
    /// <exception cref="LcmLoraInputException"><c>LCMLORA_THREADS</c> is not a positive integer.</exception>
    public static int Default()
    {
        var value = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(value)) return PhysicalCores();
        return int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 1
            ? n
            : throw new LcmLoraInputException($"{EnvironmentVariable}={value}: expected a positive whole number of threads.");
    }

    /// <summary>Sets libtorch's intra-op threads (null: <see cref="Default"/>). Returns the count set.</summary>
    /// <exception cref="LcmLoraInputException">The count is not positive.</exception>
    public static int Apply(int? threads = null)
    {
        var n = threads ?? Default();
        if (n < 1) throw new LcmLoraInputException($"Thread count must be at least 1; got {n}.");
        torch.set_num_threads(n);
        return n;
    }
}
