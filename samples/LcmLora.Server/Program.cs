namespace LcmLora.Server;

/// <summary>
/// <c>dotnet run --project samples/LcmLora.Server [-- --model PATH --lora FILE[:WEIGHT] --preview-taesd PATH]</c>, then
/// open http://localhost:5080. With no <c>--model</c>, the built-in tiny SDXL with random weights is served.
/// </summary>
public sealed class Program
{
    /// <summary>Runs the server until Ctrl+C.</summary>
    public static void Main(string[] args) => ServerApp.Build(args).Run();
}
