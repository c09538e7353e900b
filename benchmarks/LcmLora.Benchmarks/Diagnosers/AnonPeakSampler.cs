namespace LcmLora.Benchmarks.Diagnosers;

/// <summary>
/// Samples this process's RssAnon every 5 ms on a background task until disposed: the peak of anonymous memory
/// (allocations only; VmHWM also counts a memory-mapped checkpoint's reclaimable file pages).
/// </summary>
public sealed class AnonPeakSampler : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _task;
    private long _peak;

    /// <summary>Starts sampling.</summary>
    public AnonPeakSampler()
    {
        _peak = ProcStatus.Self().AnonBytes;
        _task = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Interlocked.Exchange(ref _peak, Math.Max(Interlocked.Read(ref _peak), ProcStatus.Self().AnonBytes));
                await Task.Delay(5);
            }
        });
    }

    /// <summary>The highest RssAnon seen so far (bytes), including now.</summary>
    public long Peak => Math.Max(Interlocked.Read(ref _peak), ProcStatus.Self().AnonBytes);

    /// <summary>Stops sampling.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _task.Wait();
        _stop.Dispose();
    }
}
