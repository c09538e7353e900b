using System.Runtime.InteropServices;
using LcmLora.Runtime;
using Xunit;

namespace LcmLora.Tests.Runtime;

[Trait("Category", "unit")]
public class NativeRuntimeHugePagesTests
{
    [DllImport("libc.so.6", EntryPoint = "getenv")] private static extern IntPtr NativeGetenv(string name);

    [Fact]
    public void LibtorchIsAskedForHugePagesUnlessTheProcessChoseOtherwise()
    {
        NativeRuntime.EnsureInitialized();
        if (!OperatingSystem.IsLinux()) { Assert.False(NativeRuntime.HugePages); return; }
        var native = Marshal.PtrToStringAnsi(NativeGetenv(NativeRuntime.HugePagesVariable));
        // .NET's view of the environment is the start-up snapshot: it tells whether the user set the variable.
        var userChoice = Environment.GetEnvironmentVariable(NativeRuntime.HugePagesVariable);
        Assert.Equal(userChoice ?? "1", native);
        Assert.Equal(native == "1", NativeRuntime.HugePages);
    }
}
