using LcmLora.Pipelines;
using Spectre.Console;

namespace LcmLora.Cli.Output;

/// <summary>
/// Shows progress of long operations: a Spectre.Console progress bar with ETA on an interactive terminal, plain lines on
/// standard error otherwise (pipes, CI, tests), nothing with --quiet.
/// </summary>
public static class StepProgress
{
    /// <summary>True when a live progress bar can be drawn.</summary>
    public static bool Interactive => Terminal.Error.Profile.Capabilities.Interactive && !Console.IsErrorRedirected && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="work"/> with a progress task named <paramref name="title"/> of <paramref name="total"/> units.</summary>
    public static T Run<T>(string title, int total, bool quiet, Func<Action<int, string?>, T> work)
    {
        if (quiet) return work((_, _) => { });
        if (!Interactive)
        {
            return work((done, note) => Console.Error.WriteLine($"{title}: {done}/{total}{(note is null ? "" : " " + note)}"));
        }
        T result = default!;
        Terminal.Error.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: total);
                result = work((done, note) =>
                {
                    task.Value = done;
                    if (note is not null) task.Description = Markup.Escape($"{title} {note}");
                });
                task.StopTask();
            });
        return result;
    }

    /// <summary>Adapts pipeline step reports to a progress callback, also writing previews when asked.</summary>
    public sealed class Steps(Action<int, string?> update, string? previewDir) : IProgress<GenerationProgress>
    {
        /// <inheritdoc />
        public void Report(GenerationProgress value)
        {
            if (previewDir is not null && value.Preview is { } preview)
                Imaging.PngCodec.Save(preview, Path.Combine(previewDir, $"step_{value.Step}.png"));
            update(value.Step, $"(t={value.Timestep:0})");
        }
    }
}
