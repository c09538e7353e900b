using System.CommandLine;

namespace LcmLora.Cli.Commands;

/// <summary><c>--force</c> and the checks every output path gets before any work starts.</summary>
public static class OutputOptions
{
    /// <summary>Creates the <c>--force</c> option.</summary>
    public static Option<bool> Force() => new("--force") { Description = "Overwrite existing output files (without it, an existing output is an error)." };

    /// <summary>
    /// Refuses an output that exists (without <paramref name="force"/>), a folder where a file is expected, and
    /// anything that is not a regular file (device nodes, FIFOs).
    /// </summary>
    /// <param name="option">The option's name, for the message.</param>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output may be replaced.</param>
    /// <param name="folder">The output is a folder (fuse of a diffusers model).</param>
    public static void Check(string option, string path, bool force, bool folder = false)
    {
        if (!folder && Directory.Exists(path)) throw new LcmLoraInputException($"{option} {path}: is a folder; give a file name.");
        if (folder && File.Exists(path)) throw new LcmLoraInputException($"{option} {path}: is a file; this output is a folder.");
        if (!force && (File.Exists(path) || Directory.Exists(path)))
            throw new LcmLoraInputException($"{option} {path}: already exists; pass --force to overwrite it.");
        if (!folder) IO.OutputFile.CheckTarget(path);
        var parent = Path.GetDirectoryName(Path.GetFullPath(path));
        if (parent is not null && File.Exists(parent)) throw new LcmLoraInputException($"{option} {path}: {parent} is a file, not a folder.");
    }
}
