using Xunit;
using System.Net.ServerSentEvents;
using System.Net.Http.Json;
using System.Text.Json;
using LcmLora.Pipelines;
using LcmLora.Server.Generation;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace LcmLora.Tests.Server;

/// <summary>
/// The server in-process on the built-in tiny model (as <c>dotnet run --project samples/LcmLora.Server</c>), with TAESD
/// previews from the fixture TAESD-XL. Settings are the server's configuration keys (e.g. "QueueLimit"); an optional
/// <see cref="StepGate"/> holds the real generation after a step so queue and cancellation tests are deterministic;
/// an optional <see cref="ManualTime"/> drives retention.
/// </summary>
public sealed class ServerFactory : WebApplicationFactory<LcmLora.Server.Program>
{
    private readonly Dictionary<string, string?> _settings;

    public ServerFactory(Dictionary<string, string?>? settings = null, StepGate? gate = null, ManualTime? time = null)
    {
        // fp32 explicitly: the server defaults to auto (bf16 on CPUs with AVX512_BF16), and these tests check the reported dtype
        _settings = new Dictionary<string, string?> { ["PreviewTaesd"] = Fixtures.Path("taesd", "diffusers"), ["DType"] = "fp32" };
        foreach (var (k, v) in settings ?? []) _settings[k] = v;
        Gate = gate;
        Time = time;
    }

    public StepGate? Gate { get; }

    public ManualTime? Time { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings) builder.UseSetting($"Server:{key}", value);
        builder.ConfigureTestServices(services =>
        {
            if (Gate is { } gate)
                services.AddSingleton<IImageGenerator>(sp => new GatedGenerator(sp.GetRequiredService<PipelineHost>(), gate));
            if (Time is { } time) services.AddSingleton<TimeProvider>(time);
        });
    }

    /// <summary>Small requests: the tiny model at 32x32 (its native size) runs a step in well under a second.</summary>
    public static object Body(string prompt = "a lighthouse on a cliff", int steps = 4, ulong seed = 42, object? loras = null) =>
        new { prompt, steps, seed, width = 32, height = 32, loras };

    /// <summary>Submits and returns the job id (asserting 202).</summary>
    public static async Task<string> SubmitAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("/v1/images", body);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    /// <summary>Reads a job's event stream to its end (or until <paramref name="stopAfter"/> says so).</summary>
    public static async Task<List<SseItem<JsonElement>>> EventsAsync(HttpClient client, string id, Func<SseItem<JsonElement>, bool>? stopAfter = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        using var response = await client.GetAsync($"/v1/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
        var events = new List<SseItem<JsonElement>>();
        var parser = SseParser.Create(stream, (type, data) => JsonDocument.Parse(data.ToArray()).RootElement.Clone());
        await foreach (var item in parser.EnumerateAsync(timeout.Token))
        {
            events.Add(item);
            if (stopAfter?.Invoke(item) == true) break;
        }
        return events;
    }

    /// <summary>The job's final event payload.</summary>
    public static async Task<JsonElement> FinalAsync(HttpClient client, string id)
    {
        var events = await EventsAsync(client, id);
        Assert.Equal("final", events[^1].EventType);
        return events[^1].Data;
    }
}

/// <summary>Holds the first real generation right after a given step has been reported, until released or cancelled (later generations pass).</summary>
public sealed class StepGate(int pauseAfterStep = 1)
{
    private readonly SemaphoreSlim _release = new(0);
    private readonly SemaphoreSlim _reached = new(0);
    private int _used;

    public int PauseAfterStep { get; } = pauseAfterStep;

    /// <summary>Waits until a generation is held at the gate.</summary>
    public async Task WaitReachedAsync() => Assert.True(await _reached.WaitAsync(TimeSpan.FromMinutes(3)), "no generation reached the gate");

    /// <summary>Lets one held generation continue.</summary>
    public void Release() => _release.Release();

    internal void Pass(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _used, 1) == 1) return;
        _reached.Release();
        _release.Wait(cancellationToken);
    }
}

/// <summary>The real pipeline host, with its progress routed through a <see cref="StepGate"/>.</summary>
internal sealed class GatedGenerator(PipelineHost inner, StepGate gate) : IImageGenerator
{
    public ModelInfo Model => inner.Model;

    public GenerationResult Generate(JobInput input, IProgress<GenerationProgress> progress, CancellationToken cancellationToken) =>
        inner.Generate(input, new Gated(progress, gate, cancellationToken), cancellationToken);

    private sealed class Gated(IProgress<GenerationProgress> progress, StepGate gate, CancellationToken ct) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value)
        {
            progress.Report(value);
            if (value.Step == gate.PauseAfterStep) gate.Pass(ct);
        }
    }
}

/// <summary>A clock the test moves by hand (timers never fire on their own).</summary>
public sealed class ManualTime : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
