using System.Net.ServerSentEvents;
using System.Text.Json;
using LcmLora.Server.Generation;
using LcmLora.Server.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace LcmLora.Server.Api;

/// <summary>The <c>/v1</c> HTTP API.</summary>
public static class ImageEndpoints
{
    /// <summary>What <c>POST /v1/images</c> returns with 202.</summary>
    /// <param name="Id">The job id.</param>
    /// <param name="Status">URL of the job (also the Location header).</param>
    /// <param name="Events">URL of its Server-Sent Events stream.</param>
    /// <param name="Seed">The seed it will use.</param>
    public sealed record JobAccepted(string Id, string Status, string Events, ulong Seed);

    /// <summary><c>GET /v1/model</c>: the loaded model and the request limits.</summary>
    public sealed record ModelResponse(ModelInfo Model, Limits Limits);

    /// <summary>Request limits of this server.</summary>
    public sealed record Limits(int MaxSteps, int MaxSize, int MaxBatch, int MaxPromptLength, int QueueLimit, int KeepResults, double KeepMinutes);

    /// <summary>Maps the endpoints.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapPost("/images", Submit).Accepts<ImageRequest>("application/json")
            .WithSummary("Queue a generation; 202 with the job's id and Location, 400 for a bad request, 429 when the queue is full.");
        v1.MapGet("/jobs", (JobQueue queue) => queue.Recent().Select(JobStatus.Of).ToList())
            .WithSummary("Jobs still held by the server, newest first.");
        v1.MapGet("/jobs/{id}", Results<Ok<JobStatus>, ProblemHttpResult> (string id, JobQueue queue) =>
                queue.Find(id) is { } job ? TypedResults.Ok(JobStatus.Of(job)) : NotFound(id))
            .WithSummary("State, step, timings, seed and image URLs of a job.");
        v1.MapGet("/jobs/{id}/events", Events)
            .WithSummary("Server-Sent Events: one 'step' event per step (with a TAESD preview data URL when previews are on), then one 'final' event.");
        v1.MapDelete("/jobs/{id}", Cancel)
            .WithSummary("Cancel a queued or running job (a running one stops at its next step).");
        v1.MapGet("/images/{id}.png", Results<FileContentHttpResult, ProblemHttpResult> (string id, JobQueue queue) =>
                FindImage(queue, id) is { } png ? TypedResults.File(png, "image/png") : NotFound(id, "image"))
            .WithSummary("A generated image (kept for the server's retention time and count).");
        v1.MapGet("/model", (IImageGenerator generator, IOptions<ServerOptions> options) =>
            {
                var o = options.Value;
                return new ModelResponse(generator.Model, new Limits(o.MaxSteps, o.MaxSize, o.MaxBatch, o.MaxPromptLength, o.QueueLimit, o.KeepResults, o.KeepMinutes));
            })
            .WithSummary("What is loaded: family, dtype, device, sizes, LoRAs with their weights, previews; and the request limits.");
    }

    private static async Task<IResult> Submit(HttpContext http, JobQueue queue, IImageGenerator generator, IOptions<ServerOptions> options)
    {
        ImageRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<ImageRequest>(http.Request.Body, JsonSerializerOptions.Web, http.RequestAborted);
        }
        catch (JsonException e)
        {
            // Name the field: the JSON path of the bad value, without its "$." prefix.
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = ["Not valid JSON for this field (see /openapi/v1.json)."] });
        }
        if (body is null) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["A JSON object is required."] });
        var (input, errors) = body.Validate(generator.Model, options.Value);
        if (input is null) return TypedResults.ValidationProblem(errors);
        var (job, retryAfter) = queue.Submit(input);
        if (job is null)
        {
            http.Response.Headers.RetryAfter = ((int)retryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "The queue is full",
                detail: $"{queue.Waiting} jobs are waiting (limit {options.Value.QueueLimit}); retry after {(int)retryAfter.TotalSeconds} s.");
        }
        var status = $"/v1/jobs/{job.Id}";
        return TypedResults.Accepted(status, new JobAccepted(job.Id, status, status + "/events", input.Seed));
    }

    private static Results<ServerSentEventsResult<object>, ProblemHttpResult> Events(string id, JobQueue queue, HttpContext http,
        [FromHeader(Name = "Last-Event-ID")] int? lastEventId)
    {
        if (queue.Find(id) is not { } job) return NotFound(id);
        // Disconnecting ends this enumeration only (RequestAborted); the job keeps running. A browser's EventSource
        // that reconnects sends Last-Event-ID and gets only what it missed.
        var after = lastEventId ?? -1;
        return TypedResults.ServerSentEvents(Stream(job, after, http.RequestAborted));
    }

    private static async IAsyncEnumerable<SseItem<object>> Stream(Job job, int after,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in job.ReadEventsAsync(cancellationToken))
            if (e.Id > after) yield return new SseItem<object>(e.Data, e.Type) { EventId = e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    private static Results<Accepted<JobStatus>, ProblemHttpResult> Cancel(string id, JobQueue queue)
    {
        if (queue.Find(id) is not { } job) return NotFound(id);
        if (!queue.Cancel(job))
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The job has already finished", detail: $"Job {id} is {job.State}.");
        return TypedResults.Accepted($"/v1/jobs/{id}", JobStatus.Of(job));
    }

    private static byte[]? FindImage(JobQueue queue, string id)
    {
        var dash = id.LastIndexOf('-');
        if (dash <= 0 || !int.TryParse(id[(dash + 1)..], out var index)) return null;
        return queue.Find(id[..dash]) is { } job && index >= 0 && index < job.Images.Count ? job.Images[index] : null;
    }

    private static ProblemHttpResult NotFound(string id, string what = "job") =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: $"No such {what}",
            detail: $"No {what} '{id}' (finished jobs and their images are deleted after the server's retention time or count).");
}
