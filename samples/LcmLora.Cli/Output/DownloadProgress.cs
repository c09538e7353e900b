using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using LcmLora.Hub;
using Spectre.Console;

namespace LcmLora.Cli.Output;

/// <summary>
/// Shows Hub downloads: one Spectre.Console bar per file with bytes, rate and time left on an interactive terminal;
/// plain lines on standard error otherwise (a start line, every 25 %, and a done line with the rate); nothing with
/// --quiet. Files already in the cache show nothing.
/// </summary>
public static class DownloadProgress
{
    /// <summary>Runs <paramref name="work"/> with a progress sink (null when quiet) and waits for it.</summary>
    public static T Run<T>(bool quiet, Func<IProgress<HubProgress>?, Task<T>> work)
    {
        if (quiet) return work(null).GetAwaiter().GetResult();
        if (!StepProgress.Interactive) return work(new Lines()).GetAwaiter().GetResult();
        T result = default!;
        Terminal.Error.Progress().HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(ctx => result = work(new Bars(ctx)).GetAwaiter().GetResult());
        return result;
    }

    /// <summary>A size in binary units, as the progress bar's columns show it.</summary>
    public static string Size(double bytes) => bytes switch
    {
        >= 1 << 30 => (bytes / (1 << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
        >= 1 << 20 => (bytes / (1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= 1 << 10 => (bytes / (1 << 10)).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString("0", CultureInfo.InvariantCulture) + " B",
    };

    private const string WaitingNote = "waiting: the same content is being downloaded by another download";

    private sealed class Bars(ProgressContext context) : IProgress<HubProgress>
    {
        private readonly ConcurrentDictionary<(string, string), ProgressTask> _tasks = new();

        public void Report(HubProgress value)
        {
            // A file already cached gets no bar, unless it waited for another download of the same content.
            if (value.Status == HubFileStatus.Cached && !_tasks.ContainsKey((value.RepoId, value.File))) return;
            var task = _tasks.GetOrAdd((value.RepoId, value.File), _ =>
                context.AddTask(Markup.Escape(value.File), maxValue: Math.Max(1, value.TotalBytes ?? 1)));
            lock (task)
            {
                if (value.TotalBytes is { } total) task.MaxValue = Math.Max(1, total);
                if (value.Status == HubFileStatus.Waiting) task.Description = Markup.Escape($"{value.File} ({WaitingNote})");
                var finished = value.Status is HubFileStatus.Completed or HubFileStatus.Cached;
                task.Value = finished ? task.MaxValue : value.BytesDone;
                if (finished)
                {
                    task.Description = Markup.Escape(value.File);
                    task.StopTask();
                }
            }
        }
    }

    private sealed class Lines : IProgress<HubProgress>
    {
        private readonly ConcurrentDictionary<(string, string), (Stopwatch Clock, long Start, int Quarter)> _files = new();
        private readonly ConcurrentDictionary<(string, string), bool> _waited = new();

        public void Report(HubProgress value)
        {
            var key = (value.RepoId, value.File);
            var name = $"{value.RepoId}/{value.File}";
            switch (value.Status)
            {
                case HubFileStatus.Cached:
                    if (_waited.TryRemove(key, out _)) Console.Error.WriteLine($"download: {name}: done (downloaded by the other download)");
                    return;
                case HubFileStatus.Waiting:
                    if (_waited.TryAdd(key, true)) Console.Error.WriteLine($"download: {name}: {WaitingNote}");
                    return;
                case HubFileStatus.Completed:
                    if (_files.TryRemove(key, out var done))
                    {
                        var seconds = Math.Max(done.Clock.Elapsed.TotalSeconds, 1e-3);
                        Console.Error.WriteLine($"download: {name}: done, {Size(value.BytesDone)} in {seconds.ToString("0.0", CultureInfo.InvariantCulture)} s " +
                            $"({Size((value.BytesDone - done.Start) / seconds)}/s)");
                    }
                    return;
            }
            var state = _files.GetOrAdd(key, _ =>
            {
                Console.Error.WriteLine($"download: {name} ({(value.TotalBytes is { } t ? Size(t) : "size unknown")}" +
                    $"{(value.BytesDone > 0 ? $", resuming at {Size(value.BytesDone)}" : "")})");
                return (Stopwatch.StartNew(), value.BytesDone, 0);
            });
            if (value.TotalBytes is not { } total || total <= 0) return;
            var quarter = (int)(4 * value.BytesDone / total);
            if (quarter > state.Quarter && quarter < 4 && _files.TryUpdate(key, state with { Quarter = quarter }, state))
                Console.Error.WriteLine($"download: {name}: {25 * quarter}% ({Size(value.BytesDone)} of {Size(total)})");
        }
    }
}
