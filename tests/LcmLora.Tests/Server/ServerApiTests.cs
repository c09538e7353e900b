using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace LcmLora.Tests.Server;

/// <summary>The HTTP API on the real tiny model: job lifecycle, event order, cancellation, queue limit, validation, retention.</summary>
[Trait("Category", "integration")]
public sealed class ServerApiTests
{
    [Fact]
    public async Task JobRunsFromAcceptedToImage()
    {
        using var factory = new ServerFactory();
        using var client = factory.CreateClient();

        using var response = await client.PostAsJsonAsync("/v1/images", ServerFactory.Body(seed: 7));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = accepted.GetProperty("id").GetString()!;
        Assert.Equal($"/v1/jobs/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(7ul, accepted.GetProperty("seed").GetUInt64());

        var final = await ServerFactory.FinalAsync(client, id);
        Assert.Equal("succeeded", final.GetProperty("state").GetString());

        var job = await client.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}");
        Assert.Equal("succeeded", job.GetProperty("state").GetString());
        Assert.Equal(4, job.GetProperty("step").GetInt32());
        Assert.Equal(7ul, job.GetProperty("seed").GetUInt64());
        Assert.True(job.GetProperty("runSeconds").GetDouble() > 0);
        Assert.Equal("a lighthouse on a cliff", job.GetProperty("parameters").GetProperty("prompt").GetString());
        var url = Assert.Single(job.GetProperty("images").EnumerateArray()).GetString()!;

        using var image = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        Assert.Equal("image/png", image.Content.Headers.ContentType?.MediaType);
        var png = await image.Content.ReadAsByteArrayAsync();
        Assert.Equal((32, 32), PngSize(png));
    }

    [Fact]
    public async Task ImageToImageRunsFromAnUploadedImage()
    {
        using var factory = new ServerFactory();
        using var client = factory.CreateClient();
        var pixels = Enumerable.Range(0, 32 * 32 * 3).Select(i => (byte)(i % 251)).ToArray();
        var init = "data:image/png;base64," + Convert.ToBase64String(LcmLora.Imaging.PngCodec.Encode(new LcmLora.Imaging.RgbImage(32, 32, pixels)));
        var id = await ServerFactory.SubmitAsync(client, new { prompt = "a fox", steps = 4, strength = 0.5, seed = 3, width = 32, height = 32, scheduler = "euler", initImage = init });

        var events = await ServerFactory.EventsAsync(client, id);

        // Euler at strength 0.5 runs the second half of a 4-step schedule (LCM would run 4 steps on a shortened range, as diffusers does).
        Assert.Equal(["step", "step", "final"], events.Select(e => e.EventType));
        Assert.Equal(2, events[0].Data.GetProperty("totalSteps").GetInt32());
        Assert.Equal("succeeded", events[^1].Data.GetProperty("state").GetString());
        Assert.Equal(0.5, events[^1].Data.GetProperty("parameters").GetProperty("strength").GetDouble());
        Assert.Equal("euler", events[^1].Data.GetProperty("parameters").GetProperty("scheduler").GetString());
    }

    [Fact]
    public async Task EventsAreOneStepEachInOrderWithPreviewsThenFinal()
    {
        using var factory = new ServerFactory();
        using var client = factory.CreateClient();
        var id = await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 3));

        var events = await ServerFactory.EventsAsync(client, id);

        Assert.Equal(["step", "step", "step", "final"], events.Select(e => e.EventType));
        Assert.Equal(["0", "1", "2", "3"], events.Select(e => e.EventId));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(i + 1, events[i].Data.GetProperty("step").GetInt32());
            Assert.Equal(3, events[i].Data.GetProperty("totalSteps").GetInt32());
            Assert.StartsWith("data:image/png;base64,", events[i].Data.GetProperty("preview").GetString());
        }
        Assert.Equal(0, events[2].Data.GetProperty("etaSeconds").GetDouble());
        Assert.Equal("succeeded", events[3].Data.GetProperty("state").GetString());

        // A late reader replays the whole stream; only the newest preview is still held.
        var replay = await ServerFactory.EventsAsync(client, id);
        Assert.Equal(events.Select(e => e.EventType), replay.Select(e => e.EventType));
        Assert.Equal(JsonValueKind.Null, replay[0].Data.GetProperty("preview").ValueKind);
        Assert.Equal(JsonValueKind.String, replay[2].Data.GetProperty("preview").ValueKind);

        // A reconnecting EventSource sends the last id it saw and gets only what follows.
        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/jobs/{id}/events");
        resume.Headers.Add("Last-Event-ID", "1");
        using var response = await client.SendAsync(resume);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(["2", "3"], text.Split('\n').Where(l => l.StartsWith("id: ", StringComparison.Ordinal)).Select(l => l[4..]));
    }

    [Fact]
    public async Task DeleteCancelsARunningJobBetweenStepsAndThePipelineServesTheNext()
    {
        var gate = new StepGate(pauseAfterStep: 1);
        using var factory = new ServerFactory(gate: gate);
        using var client = factory.CreateClient();
        var id = await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 4));
        await gate.WaitReachedAsync();

        using var delete = await client.DeleteAsync($"/v1/jobs/{id}");
        Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        var events = await ServerFactory.EventsAsync(client, id);
        Assert.Equal(["step", "final"], events.Select(e => e.EventType));
        Assert.Equal("cancelled", events[^1].Data.GetProperty("state").GetString());
        Assert.Equal(1, events[^1].Data.GetProperty("step").GetInt32());
        Assert.Empty(events[^1].Data.GetProperty("images").EnumerateArray());

        using var again = await client.DeleteAsync($"/v1/jobs/{id}");
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        var next = await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 2));
        Assert.Equal("succeeded", (await ServerFactory.FinalAsync(client, next)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task DeleteCancelsAQueuedJobBeforeItRuns()
    {
        var gate = new StepGate(pauseAfterStep: 1);
        using var factory = new ServerFactory(gate: gate);
        using var client = factory.CreateClient();
        var first = await ServerFactory.SubmitAsync(client, ServerFactory.Body());
        await gate.WaitReachedAsync();
        var second = await ServerFactory.SubmitAsync(client, ServerFactory.Body());

        using var delete = await client.DeleteAsync($"/v1/jobs/{second}");
        Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        var cancelled = await ServerFactory.FinalAsync(client, second);
        Assert.Equal("cancelled", cancelled.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, cancelled.GetProperty("startedAt").ValueKind);

        gate.Release();
        Assert.Equal("succeeded", (await ServerFactory.FinalAsync(client, first)).GetProperty("state").GetString());
        Assert.Equal(0, (await client.GetFromJsonAsync<JsonElement>($"/v1/jobs/{second}")).GetProperty("step").GetInt32());
    }

    [Fact]
    public async Task DisconnectingFromTheEventStreamDoesNotCancel()
    {
        var gate = new StepGate(pauseAfterStep: 1);
        using var factory = new ServerFactory(gate: gate);
        using var client = factory.CreateClient();
        var id = await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 3));

        // Read the first step, then drop the connection while the job is held after that step.
        var partial = await ServerFactory.EventsAsync(client, id, stopAfter: e => e.EventType == "step");
        Assert.Single(partial);
        await gate.WaitReachedAsync();
        gate.Release();

        var final = await ServerFactory.FinalAsync(client, id);
        Assert.Equal("succeeded", final.GetProperty("state").GetString());
        Assert.Equal(3, final.GetProperty("step").GetInt32());
    }

    [Fact]
    public async Task FullQueueAnswers429WithRetryAfter()
    {
        var gate = new StepGate(pauseAfterStep: 1);
        using var factory = new ServerFactory(new() { ["QueueLimit"] = "1" }, gate);
        using var client = factory.CreateClient();
        var running = await ServerFactory.SubmitAsync(client, ServerFactory.Body());
        await gate.WaitReachedAsync();
        var waiting = await ServerFactory.SubmitAsync(client, ServerFactory.Body());

        using var rejected = await client.PostAsJsonAsync("/v1/images", ServerFactory.Body());
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.True(rejected.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {rejected.Headers.RetryAfter}");
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);

        gate.Release();
        foreach (var id in new[] { running, waiting })
            Assert.Equal("succeeded", (await ServerFactory.FinalAsync(client, id)).GetProperty("state").GetString());
        // Both ran, in arrival order.
        var first = await client.GetFromJsonAsync<JsonElement>($"/v1/jobs/{running}");
        var second = await client.GetFromJsonAsync<JsonElement>($"/v1/jobs/{waiting}");
        Assert.True(first.GetProperty("finishedAt").GetDateTimeOffset() <= second.GetProperty("startedAt").GetDateTimeOffset());
        // With room again, a request is accepted.
        await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 1));
    }

    public static TheoryData<string, string> BadRequests => new()
    {
        { """{"steps":4}""", "prompt" },
        { """{"prompt":"x","width":33,"height":32}""", "width" },
        { """{"prompt":"x","width":32,"height":4096}""", "height" },
        { """{"prompt":"x","steps":0}""", "steps" },
        { """{"prompt":"x","steps":51}""", "steps" },
        { "{\"prompt\":\"" + new string('a', 2001) + "\"}", "prompt" },
        { "{\"prompt\":\"x\",\"negativePrompt\":\"" + new string('a', 2001) + "\"}", "negativePrompt" },
        { """{"prompt":"x","loras":{"papercut":0.8}}""", "loras.papercut" },
        { """{"prompt":"x","scheduler":"ddim"}""", "scheduler" },
        { """{"prompt":"x","guidance":-1}""", "guidance" },
        { """{"prompt":"x","batch":9}""", "batch" },
        { """{"prompt":"x","initImage":"not base64!"}""", "initImage" },
        { """{"prompt":"x","initImage":"aGVsbG8="}""", "initImage" },
        { """{"prompt":"x","steps":"four"}""", "steps" },
    };

    [Fact]
    public async Task BadRequestsGet400ProblemDetailsNamingTheField()
    {
        using var factory = new ServerFactory();
        using var client = factory.CreateClient();
        foreach (var row in BadRequests)
        {
            var (json, field) = ((string)row[0], (string)row[1]);
            using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
            using var response = await client.PostAsync("/v1/images", content);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{json[..Math.Min(60, json.Length)]}: {response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            var errors = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
            Assert.True(errors.SequenceEqual([field]), $"{json[..Math.Min(60, json.Length)]}: errors for [{string.Join(", ", errors)}], expected [{field}]");
        }
        var jobs = await client.GetFromJsonAsync<JsonElement>("/v1/jobs");
        Assert.Equal(0, jobs.GetArrayLength());
    }

    [Fact]
    public async Task FinishedResultsBeyondTheCountAreDeleted()
    {
        using var factory = new ServerFactory(new() { ["KeepResults"] = "1" });
        using var client = factory.CreateClient();
        var first = await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 1));
        var firstImage = (await ServerFactory.FinalAsync(client, first)).GetProperty("images")[0].GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(firstImage)).StatusCode);

        var second = await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 1));
        var secondImage = (await ServerFactory.FinalAsync(client, second)).GetProperty("images")[0].GetString()!;

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(firstImage)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/jobs/{first}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(secondImage)).StatusCode);
    }

    [Fact]
    public async Task FinishedResultsOlderThanTheKeptTimeAreDeleted()
    {
        var time = new ManualTime();
        using var factory = new ServerFactory(new() { ["KeepMinutes"] = "10" }, time: time);
        using var client = factory.CreateClient();
        var id = await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 1));
        var image = (await ServerFactory.FinalAsync(client, id)).GetProperty("images")[0].GetString()!;

        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(image)).StatusCode);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(image)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/jobs/{id}")).StatusCode);
    }

    [Fact]
    public async Task LoraWeightsChangeTheImageAndComeBackExactly()
    {
        var lora = Fixtures.Path("lora", "lora_a.safetensors");
        using var factory = new ServerFactory(new() { ["Model"] = Fixtures.Path("tiny-sdxl", "diffusers"), ["Loras:0"] = lora + ":1.0" });
        using var client = factory.CreateClient();
        var model = await client.GetFromJsonAsync<JsonElement>("/v1/model");
        var loaded = Assert.Single(model.GetProperty("model").GetProperty("loras").EnumerateArray());
        Assert.Equal("lora_a", loaded.GetProperty("name").GetString());
        Assert.True(loaded.GetProperty("modules").GetInt32() > 0);

        async Task<byte[]> Generate(double weight)
        {
            var id = await ServerFactory.SubmitAsync(client, ServerFactory.Body(steps: 2, seed: 5, loras: new Dictionary<string, double> { ["lora_a"] = weight }));
            var final = await ServerFactory.FinalAsync(client, id);
            Assert.Equal(weight, final.GetProperty("parameters").GetProperty("loras").GetProperty("lora_a").GetDouble());
            return await client.GetByteArrayAsync(final.GetProperty("images")[0].GetString());
        }

        var full = await Generate(1.0);
        var off = await Generate(0.0);
        var fullAgain = await Generate(1.0);
        Assert.NotEqual(full, off);
        Assert.Equal(full, fullAgain);
    }

    [Fact]
    public async Task ModelOpenApiAndPageAreServed()
    {
        using var factory = new ServerFactory();
        using var client = factory.CreateClient();
        var model = await client.GetFromJsonAsync<JsonElement>("/v1/model");
        Assert.Equal("sdxl", model.GetProperty("model").GetProperty("family").GetString());
        Assert.Equal("fp32", model.GetProperty("model").GetProperty("dType").GetString());
        Assert.True(model.GetProperty("model").GetProperty("previews").GetBoolean());
        Assert.Equal(32, model.GetProperty("model").GetProperty("nativeSize").GetInt32());

        var openApi = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = openApi.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var path in new[] { "/v1/images", "/v1/jobs/{id}", "/v1/jobs/{id}/events", "/v1/images/{id}.png", "/v1/model" })
            Assert.Contains(path, paths);

        var page = await client.GetStringAsync("/");
        Assert.Contains("id=\"generate\"", page);
        Assert.Contains("EventSource", await client.GetStringAsync("/app.js"));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v1/jobs/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v1/images/nope-0.png")).StatusCode);
    }

    private static (int Width, int Height) PngSize(byte[] png)
    {
        Assert.Equal(0x89, png[0]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }
}
