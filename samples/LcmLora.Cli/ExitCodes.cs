namespace LcmLora.Cli;

/// <summary>Process exit codes, the same for every command.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>An unexpected internal error (a bug: please report it).</summary>
    public const int InternalError = 1;
    /// <summary>Bad input: a missing or malformed file, an unsupported format, an invalid option value.</summary>
    public const int BadInput = 2;
    /// <summary>A Hub download failed for the network, a corrupt transfer or a full disk (not the user's input); running again resumes it.</summary>
    public const int DownloadFailed = 3;
    /// <summary>Cancelled with Ctrl+C.</summary>
    public const int Cancelled = 130;
}
