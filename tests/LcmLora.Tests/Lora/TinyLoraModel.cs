using System.Text.Json;
using LcmLora.IO;
using LcmLora.Lora;
using TorchSharp;

namespace LcmLora.Tests.Lora;

/// <summary>The tiny SDXL weights as parameter dictionaries (our names = diffusers names) and the LoRA fixture facts.</summary>
internal sealed class TinyLoraModel : IDisposable
{
    private static readonly (string Component, string File)[] Files =
    [
        (LoraComponents.UNet, "unet/diffusion_pytorch_model.safetensors"),
        (LoraComponents.TextEncoder, "text_encoder/model.safetensors"),
        (LoraComponents.TextEncoder2, "text_encoder_2/model.safetensors"),
    ];

    private TinyLoraModel(Dictionary<string, Dictionary<string, torch.Tensor>> parameters) => Parameters = parameters;

    /// <summary>Component to parameter name to tensor.</summary>
    public Dictionary<string, Dictionary<string, torch.Tensor>> Parameters { get; }

    /// <summary>The components in the form <see cref="LoraAdapterSet"/> takes.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, torch.Tensor>> Components =>
        Parameters.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<string, torch.Tensor>)kv.Value);

    /// <summary>Reads the tiny diffusers weights (fp32).</summary>
    public static TinyLoraModel Load(params string[] components)
    {
        var wanted = components.Length == 0 ? Files.Select(f => f.Component).ToArray() : components;
        var result = new Dictionary<string, Dictionary<string, torch.Tensor>>();
        foreach (var (component, file) in Files.Where(f => wanted.Contains(f.Component)))
        {
            using var st = SafeTensorsFile.Open(Fixtures.Path("tiny-sdxl", "diffusers", file));
            result[component] = st.Tensors.ToDictionary(t => t.Name, t => st.Read(t.Name), StringComparer.Ordinal);
        }
        return new TinyLoraModel(result);
    }

    /// <summary>A deep copy of every tensor.</summary>
    public Dictionary<string, Dictionary<string, torch.Tensor>> Snapshot() =>
        Parameters.ToDictionary(c => c.Key, c => c.Value.ToDictionary(p => p.Key, p => p.Value.clone()));

    /// <summary>True when every weight equals the snapshot byte for byte; names the first difference otherwise.</summary>
    public string? FirstDifference(Dictionary<string, Dictionary<string, torch.Tensor>> snapshot)
    {
        foreach (var (component, parameters) in Parameters)
            foreach (var (name, t) in parameters)
            {
                var s = snapshot[component][name];
                if (t.dtype != s.dtype || !t.shape.SequenceEqual(s.shape) || !t.bytes.SequenceEqual(s.bytes)) return component + "." + name;
            }
        return null;
    }

    public static string LoraPath(char format) => Fixtures.Path("lora", $"lora_{format}.safetensors");

    /// <summary>case.json key_to_module for file a or b: kohya module key to <c>component.module</c>.</summary>
    public static IReadOnlyDictionary<string, string> KeyToModule(char format)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("lora", "case.json")));
        return doc.RootElement.GetProperty("key_to_module").GetProperty(format.ToString())
            .EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
    }

    /// <summary>Splits <c>component.rest</c> at the first dot.</summary>
    public static (string Component, string Name) SplitComponent(string qualified)
    {
        var dot = qualified.IndexOf('.');
        return (qualified[..dot], qualified[(dot + 1)..]);
    }

    public static void DisposeAll(Dictionary<string, Dictionary<string, torch.Tensor>> tensors)
    {
        foreach (var c in tensors.Values)
            foreach (var t in c.Values) t.Dispose();
    }

    public void Dispose() => DisposeAll(Parameters);
}
