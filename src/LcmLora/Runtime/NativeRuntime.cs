using System.Runtime.InteropServices;

namespace LcmLora.Runtime;

/// <summary>
/// Makes TorchSharp's native library load on Linux hosts whose libstdc++ is older than GCC 13.2
/// (Debian 12, Ubuntu 22.04). TorchSharp 0.107's <c>libLibTorchSharp.so</c> requires the symbol version
/// <c>GLIBCXX_3.4.32</c> for exactly one symbol, <c>std::ios_base_library_init()</c>. On such hosts this
/// class (1) marks that version need weak in every copy of <c>libLibTorchSharp.so</c> in the application
/// folder (never in the NuGet cache) and (2) loads a tiny shim library that defines the symbol, with
/// <c>RTLD_NOW | RTLD_GLOBAL</c>, before TorchSharp loads. On Windows, macOS and newer Linux it does nothing.
/// </summary>
/// <remarks>
/// Applications that reference the LcmLora package get a module initializer that calls
/// <see cref="EnsureInitialized"/> before <c>Main</c>; <c>SdxlPipeline.Load</c> calls it too, for applications that
/// opted out. Those two are the only entry points: an application that opted out and uses lower-level types
/// (<c>SafeTensorsFile</c>, the models) or touches <c>TorchSharp.torch</c> first calls it itself.
/// See docs/troubleshooting.md, "TorchSharp fails to load".
/// </remarks>
public static class NativeRuntime
{
    /// <summary>The file name of the shim that defines <c>std::ios_base_library_init()</c>.</summary>
    internal const string ShimFileName = "libLcmLoraStdcxxShim.so";

    internal const string MissingVersion = "GLIBCXX_3.4.32";
    private const string MissingSymbol = "_ZSt21ios_base_library_initv";
    private const string TorchSharpNative = "libLibTorchSharp.so";

    private static readonly object Gate = new();
    private static bool _done;

    /// <summary>What <see cref="EnsureInitialized"/> found and did.</summary>
    public static string Status { get; private set; } = "not initialized";

    /// <summary>
    /// Applies the libstdc++ compatibility fix when this host needs it. Idempotent and thread-safe.
    /// </summary>
    /// <exception cref="NativeRuntimeException">The host needs the fix and it cannot be applied; the message
    /// names the cause and the remedy.</exception>
    public static void EnsureInitialized()
    {
        if (!TryInitialize()) throw new NativeRuntimeException(_failure!.Message, _failure);
    }

    /// <summary>
    /// <see cref="EnsureInitialized"/> for the module initializer, which runs before <c>Main</c>: it never throws, so
    /// an application whose folder cannot be patched still starts (<c>--help</c> works) and the problem is reported,
    /// as a <see cref="NativeRuntimeException"/> with its remedy, where LcmLora is first used.
    /// </summary>
    /// <returns>False when the fix is needed and could not be applied.</returns>
    public static bool TryInitialize()
    {
        if (!_done)
        {
            lock (Gate)
            {
                if (!_done)
                {
                    HugePages = RequestHugePages();
                    try
                    {
                        Status = Apply();
                    }
                    catch (NativeRuntimeException e)
                    {
                        _failure = e;
                        Status = e.Message;
                    }
                    _done = true;
                }
            }
        }
        if (_failure is not null) return false;
        ConfigureLoadedTorch();
        return true;
    }

    /// <summary>
    /// Applies <see cref="TorchSettings"/> once libtorch is loaded (a no-op before that, and after the first success).
    /// The pipeline's constructor calls it: its models exist, so libtorch is loaded, and no convolution has run yet.
    /// </summary>
    internal static void ConfigureLoadedTorch()
    {
        if (!_torchConfigured) _torchConfigured = TorchSettings.TryDisableNnpack();
    }

    private static NativeRuntimeException? _failure;
    private static volatile bool _torchConfigured;

    /// <summary>A handle to a shared library already loaded in the process, or zero (never loads it).</summary>
    internal static IntPtr OpenLoaded(string soname) => OperatingSystem.IsLinux() ? Dl.Open(soname, Dl.RtldLazy | Dl.RtldNoload) : IntPtr.Zero;

    /// <summary>The environment variable with which libtorch's CPU allocator backs large tensors by transparent huge pages.</summary>
    public const string HugePagesVariable = "THP_MEM_ALLOC_ENABLE";

    /// <summary>
    /// Whether libtorch was asked for transparent huge pages (<see cref="HugePagesVariable"/> is 1 in the native
    /// environment). On Linux, <see cref="EnsureInitialized"/> sets it when the process has not set it either way:
    /// first-touching a full SDXL model's 13.9 GB of fresh 4 KiB pages cost 62% of a fresh load's time (measured:
    /// load 14.35 s without, 8.74 s with; step time unchanged). Opt out by setting the variable to 0 before start.
    /// </summary>
    public static bool HugePages { get; private set; }

    private static bool RequestHugePages()
    {
        if (!OperatingSystem.IsLinux()) return false;
        var current = Marshal.PtrToStringAnsi(LibC.getenv(HugePagesVariable));
        if (current is null && LibC.setenv(HugePagesVariable, "1", 0) == 0) current = "1";
        return current == "1";
    }

    private static class LibC
    {
        // .NET's Environment.SetEnvironmentVariable does not change the native environment on Unix; libtorch reads
        // the native one (once, at its first large allocation).
        [DllImport("libc.so.6")] public static extern IntPtr getenv(string name);
        [DllImport("libc.so.6")] public static extern int setenv(string name, string value, int overwrite);
    }

    /// <summary>True when the host's libstdc++ already defines <c>GLIBCXX_3.4.32</c>.</summary>
    internal static bool HostHasRequiredLibStdCxx()
    {
        var handle = Dl.Open("libstdc++.so.6", Dl.RtldLazy);
        if (handle == IntPtr.Zero) return false;
        return Dl.VersionedSymbol(handle, MissingSymbol, MissingVersion) != IntPtr.Zero;
    }

    /// <summary>The folders in which the application's copies of TorchSharp's native library can live.</summary>
    internal static IEnumerable<string> CandidateDirectories()
    {
        var dirs = new List<string> { AppContext.BaseDirectory };
        var torchSharp = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "TorchSharp")?.Location;
        if (!string.IsNullOrEmpty(torchSharp)) dirs.Add(Path.GetDirectoryName(torchSharp)!);
        var own = typeof(NativeRuntime).Assembly.Location;
        if (!string.IsNullOrEmpty(own)) dirs.Add(Path.GetDirectoryName(own)!);
        return dirs
            .SelectMany(d => new[] { d, Path.Combine(d, "cpu"), Path.Combine(d, "cuda"), Path.Combine(d, "runtimes", "linux-x64", "native") })
            .Select(Path.GetFullPath)
            .Distinct()
            .Where(Directory.Exists);
    }

    private static string Apply()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux: nothing to do";
        if (HostHasRequiredLibStdCxx()) return $"host libstdc++ has {MissingVersion}: nothing to do";

        var dirs = CandidateDirectories().ToList();
        var patched = 0;
        foreach (var lib in dirs.Select(d => Path.Combine(d, TorchSharpNative)).Where(File.Exists))
        {
            try
            {
                if (ElfVersionNeeds.MarkWeak(lib, MissingVersion)) patched++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (!ElfVersionNeeds.Read(lib).Any(n => n.Name == MissingVersion && (n.Flags & ElfVersionNeeds.VerFlagWeak) != 0))
                    throw new NativeRuntimeException(
                        $"TorchSharp cannot load: this host's libstdc++ lacks {MissingVersion} and '{lib}' could not be patched ({e.Message}). " +
                        "Remedy: make the application folder writable for one run, or build/publish the app on this host, or install libstdc++ from GCC 13.2+.", e);
            }
        }

        var shim = dirs.Select(d => Path.Combine(d, ShimFileName)).FirstOrDefault(File.Exists);
        if (shim is null)
            throw new NativeRuntimeException(
                $"TorchSharp cannot load: this host's libstdc++ lacks {MissingVersion} (it is older than GCC 13.2) and '{ShimFileName}' " +
                $"was not found next to the application ({string.Join(", ", dirs)}). Remedy: install a C++ compiler (apt-get install g++) and rebuild, " +
                "so the LcmLora build compiles the shim, or install libstdc++ from GCC 13.2+.");
        if (Dl.Open(shim, Dl.RtldNow | Dl.RtldGlobal) == IntPtr.Zero)
            throw new NativeRuntimeException($"TorchSharp cannot load: loading '{shim}' failed: {Dl.LastError()}.");
        return $"host libstdc++ lacks {MissingVersion}: patched {patched} copies of {TorchSharpNative}, loaded {shim}";
    }

    private static class Dl
    {
        public const int RtldLazy = 0x1, RtldNow = 0x2, RtldNoload = 0x4, RtldGlobal = 0x100;

        [DllImport("libc.so.6", EntryPoint = "dlopen")] private static extern IntPtr DlopenC(string? file, int mode);
        [DllImport("libc.so.6", EntryPoint = "dlvsym")] private static extern IntPtr DlvsymC(IntPtr handle, string symbol, string version);
        [DllImport("libc.so.6", EntryPoint = "dlerror")] private static extern IntPtr DlerrorC();
        [DllImport("libdl.so.2", EntryPoint = "dlopen")] private static extern IntPtr DlopenDl(string? file, int mode);
        [DllImport("libdl.so.2", EntryPoint = "dlvsym")] private static extern IntPtr DlvsymDl(IntPtr handle, string symbol, string version);
        [DllImport("libdl.so.2", EntryPoint = "dlerror")] private static extern IntPtr DlerrorDl();

        // glibc 2.34+ has the dl* functions in libc.so.6; older glibc only in libdl.so.2.
        private static readonly bool UseLibc = Probe();

        private static bool Probe()
        {
            try { DlerrorC(); return true; }
            catch (EntryPointNotFoundException) { return false; }
        }

        public static IntPtr Open(string file, int mode) => UseLibc ? DlopenC(file, mode) : DlopenDl(file, mode);
        public static IntPtr VersionedSymbol(IntPtr h, string s, string v) => UseLibc ? DlvsymC(h, s, v) : DlvsymDl(h, s, v);
        public static string LastError() => Marshal.PtrToStringAnsi(UseLibc ? DlerrorC() : DlerrorDl()) ?? "unknown error";
    }
}

/// <summary>TorchSharp's native library cannot be made to load on this host; the message says why and what to do.</summary>
public sealed class NativeRuntimeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NativeRuntimeException(string message, Exception? inner = null) : base(message, inner) { }
}
