using LcmLora.Hub;

namespace LcmLora.Tests.Hub;

/// <summary>A temporary cache and an in-process Hub serving the tiny fixtures: test-org/tiny-sdxl (the diffusers folder,
/// plus files a pipeline must never fetch), test-org/tiny-sdxl-single (the single file), test-org/lcm-lora and
/// test-org/style-lora (LoRAs) and test-org/gated-lora (gated).</summary>
public abstract class HubTestBase : TempDirectoryTest, IDisposable
{
    protected const string Tiny = "test-org/tiny-sdxl";
    protected const string UnetWeights = "unet/diffusion_pytorch_model.safetensors";

    /// <summary>Files of test-org/tiny-sdxl no pipeline download may request.</summary>
    protected static readonly string[] NeverFetched =
    [
        "unet/diffusion_pytorch_model.bin", "text_encoder/flax_model.msgpack", "text_encoder/model.onnx", "sd_xl_tiny.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors", "vae_decoder/model.onnx",
    ];

    protected HubTestBase()
    {
        Server = new HubTestServer();
        var extra = NeverFetched.ToDictionary(f => f, f => System.Text.Encoding.ASCII.GetBytes("never fetch " + f));
        extra["README.md"] = "# tiny"u8.ToArray();
        Server.AddRepo(Tiny, Fixtures.Path("tiny-sdxl", "diffusers"), extra);
        Server.AddRepo("test-org/tiny-sdxl-single", Fixtures.Path("tiny-sdxl", "sgm"));
        Server.AddRepo("test-org/lcm-lora", null, LoraRepo("lora_b.safetensors"));
        Server.AddRepo("test-org/style-lora", null, LoraRepo("lora_a.safetensors"));
        Server.AddRepo("test-org/gated-lora", null, LoraRepo("lora_c.safetensors"), gated: true);
        Cache = TempPath("hub-cache");
    }

    protected HubTestServer Server { get; }

    protected string Cache { get; }

    protected HubOptions Options(string? token = null, bool offline = false) =>
        new() { Endpoint = Server.Endpoint, CacheDirectory = Cache, Token = token, Offline = offline, MaxRetries = 2 };

    protected string RepoFolder(string repoId) => Path.Combine(Cache, "models--" + repoId.Replace("/", "--"));

    /// <summary>Sets HF_* variables for a CLI run and restores them afterwards.</summary>
    protected static IDisposable Environment(params (string Name, string? Value)[] vars)
    {
        var saved = vars.Select(v => (v.Name, System.Environment.GetEnvironmentVariable(v.Name))).ToList();
        foreach (var (name, value) in vars) System.Environment.SetEnvironmentVariable(name, value);
        return new Restore(() => { foreach (var (name, value) in saved) System.Environment.SetEnvironmentVariable(name, value); });
    }

    void IDisposable.Dispose()
    {
        Server.Dispose();
        base.Dispose();
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> LoraBytes = new();

    private static Dictionary<string, byte[]> LoraRepo(string fixture) => new()
    {
        ["pytorch_lora_weights.safetensors"] = LoraBytes.GetOrAdd(fixture, f => File.ReadAllBytes(Fixtures.Path("lora", f))),
        ["README.md"] = "---\nlicense: openrail++\n---\n"u8.ToArray(),
        ["pytorch_lora_weights.bin"] = "pickle"u8.ToArray(),
    };

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
