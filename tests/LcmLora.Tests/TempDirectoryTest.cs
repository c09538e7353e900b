namespace LcmLora.Tests;

/// <summary>Base for test classes that write files: a fresh temporary folder per test, deleted afterwards.</summary>
public abstract class TempDirectoryTest : IDisposable
{
    /// <summary>The folder.</summary>
    protected string TempDir { get; } = Directory.CreateTempSubdirectory("lcmlora-test-").FullName;

    /// <summary>A path inside the folder.</summary>
    protected string TempPath(string name) => System.IO.Path.Combine(TempDir, name);

    /// <summary>Copies every file under <paramref name="source"/> to the same place under <paramref name="target"/>.</summary>
    protected static void CopyTree(string source, string target)
    {
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var dest = System.IO.Path.Combine(target, System.IO.Path.GetRelativePath(source, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(dest)!);
            File.Copy(file, dest);
        }
    }

    /// <summary>Deletes the folder.</summary>
    public void Dispose()
    {
        Directory.Delete(TempDir, true);
        GC.SuppressFinalize(this);
    }
}
