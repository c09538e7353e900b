using LcmLora.Imaging;
using LcmLora.Pipelines;
using LcmLora.Server.Generation;

namespace LcmLora.Server.Jobs;

/// <summary>
/// Runs queued jobs one at a time, in arrival order, on a dedicated thread (a generation is long, synchronous CPU
/// work). Step reports go to the job's event log; previews are encoded as PNG data URLs on the generation thread.
/// Sweeps expired results once a minute.
/// </summary>
public sealed class JobWorker : BackgroundService
{
    private readonly JobQueue _queue;
    private readonly IImageGenerator _generator;
    private readonly TimeProvider _time;
    private readonly ILogger<JobWorker> _log;

    /// <summary>Taking the generator loads the model when the host starts, so a bad <c>--model</c> fails at startup.</summary>
    public JobWorker(JobQueue queue, IImageGenerator generator, TimeProvider time, ILogger<JobWorker> log)
    {
        _queue = queue;
        _generator = generator;
        _time = time;
        _log = log;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var sweeper = _time.CreateTimer(_ => _queue.Sweep(), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        while (!stoppingToken.IsCancellationRequested)
        {
            Job job;
            try
            {
                job = await _queue.NextAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await Task.Factory.StartNew(() => Run(job, stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            _queue.Completed(job);
        }
    }

    private void Run(Job job, CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.Cancellation.Token, stopping);
        try
        {
            using var result = _generator.Generate(job.Input, new StepReporter(job), linked.Token);
            var images = result.Images.Select(PngCodec.Encode).ToList();
            job.Finish(JobState.Succeeded, _time.GetUtcNow(), images, result.Warnings);
            _log.LogInformation("Job {Id}: done in {Seconds:0.00} s", job.Id, result.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            job.Finish(JobState.Cancelled, _time.GetUtcNow(), error: stopping.IsCancellationRequested ? "The server is shutting down." : null);
            _log.LogInformation("Job {Id}: cancelled at step {Step}", job.Id, job.Step);
        }
        catch (Exception e)
        {
            // Bad input the validation could not see, non-finite output, or a native error: the job fails, the
            // pipeline (which frees everything a failed call allocated) serves the next one.
            job.Finish(JobState.Failed, _time.GetUtcNow(), error: e.Message);
            if (e is LcmLoraInputException or NonFiniteOutputException) _log.LogWarning("Job {Id}: failed: {Message}", job.Id, e.Message);
            else _log.LogError(e, "Job {Id}: failed", job.Id);
        }
    }

    /// <summary>Reports on the generation thread (not through <see cref="Progress{T}"/>, which posts to the thread pool and could reorder steps).</summary>
    private sealed class StepReporter(Job job) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value)
        {
            var preview = value.Preview is { } image ? "data:image/png;base64," + Convert.ToBase64String(PngCodec.Encode(image)) : null;
            job.ReportStep(value.Step, value.TotalSteps, value.Elapsed, preview);
        }
    }
}
