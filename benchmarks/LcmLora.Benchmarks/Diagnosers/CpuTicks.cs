using System.Globalization;

namespace LcmLora.Benchmarks.Diagnosers;

/// <summary>
/// CPU time from <c>/proc</c> in clock ticks (1/100 s): busy time of the whole machine and of one process, to tell
/// how much of the CPU other processes took while a benchmark ran.
/// </summary>
public readonly record struct CpuTicks(long MachineBusy, long Process, DateTime At)
{
    /// <summary>Clock ticks per second of /proc (USER_HZ, 100 on Linux).</summary>
    public const double TicksPerSecond = 100;

    /// <summary>Reads the machine's busy ticks and those of process <paramref name="pid"/>; null off Linux.</summary>
    public static CpuTicks? Read(int pid)
    {
        try
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // user nice system idle iowait irq softirq steal ...: busy = everything but idle and iowait.
            var v = cpu.Skip(1).Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            var busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // after "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based) -> indexes 11 and 12 here.
            var process = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return new CpuTicks(busy, process, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Average number of cores busy with other processes between <paramref name="start"/> and <paramref name="end"/>.</summary>
    public static double OtherCores(CpuTicks start, CpuTicks end)
    {
        var seconds = (end.At - start.At).TotalSeconds;
        if (seconds <= 0) return 0;
        var other = (end.MachineBusy - start.MachineBusy) - (end.Process - start.Process);
        return Math.Max(0, other / TicksPerSecond / seconds);
    }
}
