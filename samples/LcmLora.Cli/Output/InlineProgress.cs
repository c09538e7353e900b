namespace LcmLora.Cli.Output;

/// <summary>
/// Reports on the caller's thread, in order. <see cref="Progress{T}"/> posts each report to the thread pool, so a
/// report could arrive after the command had finished and its output was closed (seen as a crash in the CLI tests,
/// and possible as a progress line printed after "wrote").
/// </summary>
internal sealed class InlineProgress<T>(Action<T> handler) : IProgress<T>
{
    /// <inheritdoc />
    public void Report(T value) => handler(value);
}
