namespace LcmLora.IO;

/// <summary>
/// Opens a weight file for reading the one safe way: the path's final target is resolved once (through every
/// symbolic link, relative or absolute, as in a Hugging Face cache snapshot), must be a regular file, and is then
/// opened; its length, modification time and contents are all taken from that one handle afterwards. Asking the
/// path again (e.g. <c>new FileInfo(path).Length</c>) would give a symbolic link's own size, not its target's.
/// </summary>
/// <remarks>
/// .NET has no portable "is a regular file" test, so a special file is kept out by what it reports: a FIFO,
/// socket or device has size 0 (nothing that short is a weight file, so it is refused without being opened and
/// a FIFO cannot block), and a handle that cannot seek is refused after opening.
/// </remarks>
internal static class RegularFile
{
    /// <summary>Opens <paramref name="path"/> for random-access reading.</summary>
    /// <param name="path">The path as the user gave it (named in every message).</param>
    /// <param name="minimumLength">Files shorter than this are refused before they are opened.</param>
    /// <param name="tooShort">The problem text for a file under <paramref name="minimumLength"/> bytes, given its length.</param>
    /// <exception cref="FileNotFoundException">Nothing at the path, or a dangling link.</exception>
    /// <exception cref="LcmLoraInputException">A folder, a special file, a link loop, or a file that is too short.</exception>
    public static FileStream OpenRead(string path, long minimumLength, Func<long, string> tooShort)
    {
        var target = FinalTarget(path);
        if (Directory.Exists(target))
            throw new LcmLoraInputException($"{path}: is a folder, expected a file.");
        var info = new FileInfo(target);
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found{Via(path, target)}.", path);
        if (info.Length < minimumLength)
            throw new SafeTensorsFormatException(path, null, info.Length == 0 ? "the file is empty or not a regular file (a FIFO, socket or device)." : tooShort(info.Length));
        FileStream stream;
        try
        {
            stream = new FileStream(target, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"{path}: file not found{Via(path, target)}.", path, e);
        }
        if (!stream.CanSeek)
        {
            stream.Dispose();
            throw new LcmLoraInputException($"{path}: not a regular file (it cannot seek).");
        }
        return stream;
    }

    /// <summary>The path every symbolic link in <paramref name="path"/>'s last component leads to (the path itself when it is no link).</summary>
    /// <exception cref="LcmLoraInputException">The links form a loop or are nested too deep.</exception>
    public static string FinalTarget(string path)
    {
        try
        {
            var target = File.ResolveLinkTarget(path, returnFinalTarget: true);
            return target?.FullName ?? path;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"{path}: file not found.", path, e);
        }
        catch (IOException e)
        {
            throw new LcmLoraInputException($"{path}: symbolic links cannot be followed ({e.Message}).", e);
        }
    }

    private static string Via(string path, string target) => target == path ? "" : $" (it links to {target}, which is missing)";
}
