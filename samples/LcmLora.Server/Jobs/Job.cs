using System.Runtime.CompilerServices;
using LcmLora.Server.Generation;

namespace LcmLora.Server.Jobs;

/// <summary>Where a job is in its life.</summary>
public enum JobState
{
    /// <summary>Waiting behind other jobs.</summary>
    Queued,
    /// <summary>Generating.</summary>
    Running,
    /// <summary>Finished with images.</summary>
    Succeeded,
    /// <summary>Finished with an error.</summary>
    Failed,
    /// <summary>Cancelled by <c>DELETE /v1/jobs/{id}</c> (before or while running).</summary>
    Cancelled,
}

/// <summary>One event of a job's stream: a step, or the final event.</summary>
/// <param name="Type">"step" or "final".</param>
/// <param name="Id">Position in the job's stream (0-based), sent as the SSE id.</param>
/// <param name="Data">The payload, serialized as JSON.</param>
public sealed record JobEvent(string Type, int Id, object Data);

/// <summary>The payload of a step event.</summary>
/// <param name="Step">1-based step just finished.</param>
/// <param name="TotalSteps">Steps in this job.</param>
/// <param name="ElapsedSeconds">Since the job started running.</param>
/// <param name="EtaSeconds">Estimated time to the last step, from the mean step time so far.</param>
/// <param name="Preview">TAESD preview of the current estimate as a PNG data URL, when previews are on.</param>
public sealed record StepEvent(int Step, int TotalSteps, double ElapsedSeconds, double EtaSeconds, string? Preview);

/// <summary>
/// A generation job: its validated input, state, and an append-only event log that any number of SSE readers
/// replay and follow. Only the latest step event keeps its preview (older previews are dropped when a newer one
/// arrives), so a job holds at most one preview image however many steps it runs.
/// </summary>
public sealed class Job
{
    private readonly object _lock = new();
    private readonly List<JobEvent> _events = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal Job(string id, JobInput input, DateTimeOffset created)
    {
        Id = id;
        Input = input;
        CreatedAt = created;
        TotalSteps = input.Steps;
    }

    public string Id { get; }

    public JobInput Input { get; }

    public DateTimeOffset CreatedAt { get; }

    public DateTimeOffset? StartedAt { get; private set; }

    public DateTimeOffset? FinishedAt { get; private set; }

    public JobState State { get; private set; } = JobState.Queued;

    public int Step { get; private set; }

    /// <summary>Steps the scheduler runs (image-to-image runs fewer than requested: steps x strength).</summary>
    public int TotalSteps { get; private set; }

    public string? Error { get; private set; }

    /// <summary>Encoded PNGs, one per batch item, once succeeded.</summary>
    public IReadOnlyList<byte[]> Images { get; private set; } = [];

    /// <summary>Warnings from the pipeline (a truncated prompt, for example).</summary>
    public IReadOnlyList<string> Warnings { get; private set; } = [];

    public bool IsFinished => State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;

    internal CancellationTokenSource Cancellation { get; } = new();

    internal void Start(DateTimeOffset now)
    {
        lock (_lock)
        {
            State = JobState.Running;
            StartedAt = now;
        }
    }

    internal void ReportStep(int step, int totalSteps, TimeSpan elapsed, string? preview)
    {
        var eta = step > 0 ? elapsed.TotalSeconds / step * (totalSteps - step) : 0;
        lock (_lock)
        {
            Step = step;
            TotalSteps = totalSteps;
            if (_events.Count > 0 && _events[^1].Data is StepEvent { Preview: not null } last)
                _events[^1] = _events[^1] with { Data = last with { Preview = null } };
            Append("step", new StepEvent(step, totalSteps, elapsed.TotalSeconds, eta, preview));
        }
    }

    /// <summary>Ends the job; returns false when it had already ended.</summary>
    internal bool Finish(JobState state, DateTimeOffset now, IReadOnlyList<byte[]>? images = null, IReadOnlyList<string>? warnings = null, string? error = null)
    {
        lock (_lock)
        {
            if (IsFinished) return false;
            State = state;
            FinishedAt = now;
            Images = images ?? [];
            Warnings = warnings ?? [];
            Error = error;
            Append("final", JobStatus.Of(this));
            return true;
        }
    }

    /// <summary>Every event so far, then each new one as it comes, ending after the final event.</summary>
    public async IAsyncEnumerable<JobEvent> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var next = 0;
        while (true)
        {
            JobEvent[] batch;
            Task changed;
            lock (_lock)
            {
                batch = _events.Skip(next).ToArray();
                changed = _changed.Task;
            }
            foreach (var e in batch)
            {
                yield return e;
                if (e.Type == "final") yield break;
            }
            next += batch.Length;
            await changed.WaitAsync(cancellationToken);
        }
    }

    private void Append(string type, object data)
    {
        _events.Add(new JobEvent(type, _events.Count, data));
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.SetResult();
    }
}
