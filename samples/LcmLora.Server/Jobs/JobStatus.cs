namespace LcmLora.Server.Jobs;

/// <summary><c>GET /v1/jobs/{id}</c> and the final SSE event: state, progress, timings, seed, image URLs and the parameters.</summary>
public sealed record JobStatus(
    string Id,
    JobState State,
    int Step,
    int TotalSteps,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    double? QueuedSeconds,
    double? RunSeconds,
    ulong Seed,
    IReadOnlyList<string> Images,
    string? Error,
    IReadOnlyList<string> Warnings,
    JobParameters Parameters)
{
    /// <summary>The URL of a job's image.</summary>
    public static string ImageUrl(string jobId, int index) => $"/v1/images/{jobId}-{index}.png";

    /// <summary>A snapshot of the job.</summary>
    public static JobStatus Of(Job job)
    {
        var i = job.Input;
        var images = Enumerable.Range(0, job.Images.Count).Select(n => ImageUrl(job.Id, n)).ToList();
        return new JobStatus(job.Id, job.State, job.Step, job.TotalSteps, job.CreatedAt, job.StartedAt, job.FinishedAt,
            (job.StartedAt ?? job.FinishedAt) is { } s ? (s - job.CreatedAt).TotalSeconds : null,
            job.StartedAt is { } start && job.FinishedAt is { } end ? (end - start).TotalSeconds : null,
            i.Seed, images, job.Error, job.Warnings,
            new JobParameters(i.Prompt, i.NegativePrompt, i.Steps, i.Guidance, i.Seed, i.Width, i.Height, i.Batch, i.Scheduler,
                i.InitImage is null ? null : i.Strength, i.Loras));
    }
}

/// <summary>The resolved parameters of a job, in the shape of a <c>POST /v1/images</c> body (to reuse them).</summary>
public sealed record JobParameters(string Prompt, string? NegativePrompt, int Steps, double Guidance, ulong Seed, int Width, int Height,
    int Batch, string Scheduler, double? Strength, IReadOnlyDictionary<string, double> Loras);
