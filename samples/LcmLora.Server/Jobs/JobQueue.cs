using System.Collections.Concurrent;
using System.Threading.Channels;
using LcmLora.Server.Generation;
using Microsoft.Extensions.Options;

namespace LcmLora.Server.Jobs;

/// <summary>
/// The process's jobs: a bounded first-in first-out queue (one generation at a time, run by <see cref="JobWorker"/>),
/// lookup by id, cancellation, and retention of finished jobs and their images (at most
/// <see cref="ServerOptions.KeepResults"/>, none older than <see cref="ServerOptions.KeepMinutes"/>).
/// </summary>
public sealed class JobQueue
{
    private readonly object _lock = new();
    private readonly Channel<Job> _channel = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, Job> _jobs = new();
    private readonly ServerOptions _options;
    private readonly TimeProvider _time;
    private int _waiting;
    private double _meanRunSeconds = 5;

    public JobQueue(IOptions<ServerOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
    }

    /// <summary>Jobs waiting behind the running one.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Queues a job; null (and how long to wait) when the queue is full.</summary>
    public (Job? Job, TimeSpan RetryAfter) Submit(JobInput input)
    {
        lock (_lock)
        {
            if (_waiting >= _options.QueueLimit)
                return (null, TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(_meanRunSeconds * (_waiting + 1)))));
            var job = new Job(Guid.NewGuid().ToString("N"), input, _time.GetUtcNow());
            _jobs[job.Id] = job;
            _waiting++;
            _channel.Writer.TryWrite(job);
            return (job, TimeSpan.Zero);
        }
    }

    /// <summary>The job, if it exists and has not expired.</summary>
    public Job? Find(string id)
    {
        Sweep();
        return _jobs.TryGetValue(id, out var job) ? job : null;
    }

    /// <summary>Every job still held, newest first.</summary>
    public IReadOnlyList<Job> Recent()
    {
        Sweep();
        return _jobs.Values.OrderByDescending(j => j.CreatedAt).ToList();
    }

    /// <summary>
    /// Cancels a job: a queued one ends at once (it will never run), a running one stops at its next step. False when
    /// it had already finished.
    /// </summary>
    public bool Cancel(Job job)
    {
        if (job.IsFinished) return false;
        job.Cancellation.Cancel();
        lock (_lock)
        {
            if (job.State == JobState.Queued && job.Finish(JobState.Cancelled, _time.GetUtcNow()))
                _waiting--;
        }
        return true;
    }

    /// <summary>The next job to run, in arrival order (jobs cancelled while queued are skipped).</summary>
    internal async Task<Job> NextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var job = await _channel.Reader.ReadAsync(cancellationToken);
            lock (_lock)
            {
                if (job.State != JobState.Queued) continue;
                _waiting--;
                job.Start(_time.GetUtcNow());
                return job;
            }
        }
    }

    /// <summary>Records a finished run (for the Retry-After estimate) and applies retention.</summary>
    internal void Completed(Job job)
    {
        if (job.State == JobState.Succeeded && job.StartedAt is { } s && job.FinishedAt is { } f)
            lock (_lock) _meanRunSeconds = 0.7 * _meanRunSeconds + 0.3 * (f - s).TotalSeconds;
        Sweep();
    }

    /// <summary>Deletes finished jobs (and their images) beyond the kept count or older than the kept time.</summary>
    public void Sweep()
    {
        var now = _time.GetUtcNow();
        var finished = _jobs.Values.Where(j => j.IsFinished && j.FinishedAt is not null).OrderByDescending(j => j.FinishedAt).ToList();
        for (var i = 0; i < finished.Count; i++)
        {
            var job = finished[i];
            if (i >= _options.KeepResults || now - job.FinishedAt!.Value > TimeSpan.FromMinutes(_options.KeepMinutes))
                _jobs.TryRemove(job.Id, out _);
        }
    }
}
