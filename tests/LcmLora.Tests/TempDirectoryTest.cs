namespace LcmLora.Tests;

/// <summary>Base for test classes that write files: a fresh temporary folder per test, deleted afterwards.</summary>
public abstract class TempDirectoryTest : IDisposable
{
    /// <summary>The folder.</summary>
    protected string TempDir { get; } = Directory.CreateTempSubdirectory("lcmlora-test-").FullName;

    /// <summary>A path inside the folder.</summary>
    protected string TempPath(string name) => System.IO.Path.Combine(TempDir, name);

    /// <summary>Deletes the folder.</summary>
    public void Dispose()
    {
        Directory.Delete(TempDir, true);
        GC.SuppressFinalize(this);
    }
}
