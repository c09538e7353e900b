using LcmLora.IO;
using LcmLora.Models;
using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// An opened SDXL checkpoint: a single file in the original (SGM) layout or a diffusers pipeline folder, memory-mapped,
/// with the configs of its four components. <see cref="Inspect"/> checks the key mapping from headers alone;
/// <see cref="Load"/> builds the modules on the meta device and materializes each weight straight from the mapping.
/// </summary>
public sealed class SdxlCheckpoint : IDisposable
{
    /// <summary>Component names in load order.</summary>
    public static IReadOnlyList<string> ComponentNames { get; } = ["unet", "text_encoder", "text_encoder_2", "vae"];

    private readonly Dictionary<string, CheckpointTensors> _sources;

    private IReadOnlyList<MappingReport>? _reports;

    private SdxlCheckpoint(string path, CheckpointLayout layout, SdxlConfigs configs, Dictionary<string, CheckpointTensors> sources,
        IReadOnlyList<MappingReport>? reports = null)
    {
        Path = path;
        Layout = layout;
        Configs = configs;
        _sources = sources;
        _reports = reports;
    }

    /// <summary>The file or folder.</summary>
    public string Path { get; }

    /// <summary>How it is stored.</summary>
    public CheckpointLayout Layout { get; }

    /// <summary>The components' architecture (read from config.json files, or inferred from tensor shapes).</summary>
    public SdxlConfigs Configs { get; }

    /// <summary>
    /// Opens a checkpoint. For a single file, <paramref name="configs"/> is used when given; otherwise the config is
    /// inferred by matching the tensor shapes against the known architectures (SDXL base and the built-in tiny model).
    /// </summary>
    /// <param name="path">A <c>.safetensors</c> single file or a diffusers pipeline folder.</param>
    /// <param name="configs">The architecture, for single files that match no built-in one.</param>
    /// <param name="variant">For diffusers folders: prefer weight files of this variant (e.g. "fp16").</param>
    public static SdxlCheckpoint Open(string path, SdxlConfigs? configs = null, string? variant = null)
    {
        Runtime.NativeRuntime.EnsureInitialized();
        if (Directory.Exists(path)) return OpenFolder(path, configs, variant);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder.", path);
        var source = CheckpointTensors.Open(path);
        try
        {
            if (!source.Keys.Any(k => k.StartsWith(UNetSgmNames.CheckpointPrefix, StringComparison.Ordinal)))
                throw new LcmLoraInputException($"{path}: not an SDXL single-file checkpoint (no '{UNetSgmNames.CheckpointPrefix}*' keys). " +
                    "LoRA files are inspected with 'lcmlora inspect LORA'; diffusers components need their pipeline folder.");
            var sources = ComponentNames.ToDictionary(c => c, _ => source);
            if (configs is not null) return new SdxlCheckpoint(path, CheckpointLayout.SgmSingleFile, configs, sources);
            var (inferred, reports) = InferConfigs(path, sources);
            return new SdxlCheckpoint(path, CheckpointLayout.SgmSingleFile, inferred, sources, reports);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    private static SdxlCheckpoint OpenFolder(string path, SdxlConfigs? configs, string? variant)
    {
        var folder = DiffusersFolder.Open(path);
        var sources = new Dictionary<string, CheckpointTensors>();
        try
        {
            foreach (var c in ComponentNames) sources[c] = CheckpointTensors.Open([.. folder.WeightFiles(c, variant)]);
            var chosen = configs ?? new SdxlConfigs(
                UNetConfig.FromJson(folder.ConfigPath("unet")),
                ClipTextConfig.FromJson(folder.ConfigPath("text_encoder")),
                ClipTextConfig.FromJson(folder.ConfigPath("text_encoder_2")),
                VaeConfig.FromJson(folder.ConfigPath("vae")));
            return new SdxlCheckpoint(folder.Root, CheckpointLayout.Diffusers, chosen, sources);
        }
        catch
        {
            foreach (var s in sources.Values) s.Dispose();
            throw;
        }
    }

    /// <summary>The tensors of a component.</summary>
    public CheckpointTensors SourceFor(string component) => _sources[component];

    /// <summary>The map from our parameter names to this checkpoint's keys for a component.</summary>
    public WeightMap MapFor(string component, IEnumerable<string> ourNames) => MapFor(Layout, component, Configs, ourNames);

    private static WeightMap MapFor(CheckpointLayout layout, string component, SdxlConfigs configs, IEnumerable<string> ourNames)
    {
        var names = ourNames.ToList();
        if (layout == CheckpointLayout.Diffusers) return WeightMap.Identity(names);
        return component switch
        {
            "unet" => new UNetSgmNames(names, UniformLayersPerBlock(configs.Unet)).CheckpointMap(names),
            "text_encoder" => ClipSgmKeyMap.ForClipL(names),
            "text_encoder_2" => ClipSgmKeyMap.ForOpenClipBigG(names),
            "vae" => new VaeSgmNames(configs.Vae.BlockOutChannels.Count).CheckpointMap(names),
            _ => throw new ArgumentOutOfRangeException(nameof(component), component, "unknown component"),
        };
    }

    private static int UniformLayersPerBlock(UNetConfig c) =>
        c.LayersPerBlock.Distinct().Count() == 1
            ? c.LayersPerBlock[0]
            : throw new LcmLoraInputException($"{c.Source}: the original single-file layout needs the same layers_per_block for every block.");

    /// <summary>Builds an empty (meta-device) or allocated module for a component.</summary>
    public static torch.nn.Module Build(string component, SdxlConfigs configs, torch.Device? device = null, torch.ScalarType? dtype = null) => component switch
    {
        "unet" => new SdxlUNet(configs.Unet, device, dtype),
        "text_encoder" => new ClipTextModel(configs.TextEncoder, device, dtype),
        "text_encoder_2" => new ClipTextModel(configs.TextEncoder2, device, dtype),
        "vae" => new AutoencoderKL(configs.Vae, device, dtype),
        _ => throw new ArgumentOutOfRangeException(nameof(component), component, "unknown component"),
    };

    /// <summary>
    /// How every component maps onto this checkpoint, from headers only (no weights are read). Computed once: the
    /// headers and configs cannot change while the checkpoint is open.
    /// </summary>
    public IReadOnlyList<MappingReport> Inspect() => _reports ??= InspectWith(Layout, Configs, _sources);

    private static IReadOnlyList<MappingReport> InspectWith(CheckpointLayout layout, SdxlConfigs configs, IReadOnlyDictionary<string, CheckpointTensors> sources)
    {
        var reports = new List<MappingReport>();
        foreach (var c in ComponentNames)
        {
            using var module = Build(c, configs, torch.device("meta"));
            var shapes = WeightMap.ShapesOf(module);
            reports.Add(MappingReport.Build(c, shapes, MapFor(layout, c, configs, shapes.Keys), sources[c]));
        }
        if (layout == CheckpointLayout.SgmSingleFile) reports.Add(LeftoverReport(sources["unet"]));
        return reports;
    }

    private static readonly string[] KnownPrefixes =
        [UNetSgmNames.CheckpointPrefix, VaeSgmNames.CheckpointPrefix, ClipSgmKeyMap.ClipLPrefix, ClipSgmKeyMap.BigGPrefix];

    private static MappingReport LeftoverReport(CheckpointTensors source)
    {
        var other = source.Keys.Where(k => !KnownPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal)) && !WeightMap.IsCommonlyIgnorable(k))
            .Order(StringComparer.Ordinal).ToList();
        return new MappingReport("other", 0, [], other, []);
    }

    private static (SdxlConfigs Configs, IReadOnlyList<MappingReport> Reports) InferConfigs(string path, IReadOnlyDictionary<string, CheckpointTensors> sources)
    {
        var candidates = new List<(string Name, SdxlConfigs Configs)> { ("SDXL base", SdxlConfigs.SdxlBase), ("tiny test model", BuiltInModels.TinyConfigs()) };
        IReadOnlyList<MappingReport>? best = null;
        foreach (var (_, configs) in candidates)
        {
            var all = InspectWith(CheckpointLayout.SgmSingleFile, configs, sources);
            var reports = all.Where(r => r.Component != "other").ToList();
            if (reports.All(r => r.Missing.Count == 0 && r.ShapeMismatches.Count == 0)) return (configs, all);
            if (best is null || Score(reports) < Score(best)) best = reports;
        }
        var worst = best!.First(r => r.Missing.Count + r.ShapeMismatches.Count > 0);
        throw new LcmLoraInputException($"{path}: the tensor shapes match no known SDXL architecture (closest: {worst.Component} has " +
            $"{worst.Missing.Count} missing keys and {worst.ShapeMismatches.Count} shape mismatches, e.g. " +
            $"{worst.Missing.Concat(worst.ShapeMismatches).First()}). Pass the configs explicitly (SdxlConfigs.FromFolder).");
        static int Score(IEnumerable<MappingReport> r) => r.Sum(x => x.Missing.Count + x.ShapeMismatches.Count);
    }

    /// <summary>
    /// Builds and loads the four modules. Weights are read one tensor at a time from the memory mapping directly in
    /// <paramref name="dtype"/> on <paramref name="device"/>. The VAE stays in float32 when <paramref name="dtype"/>
    /// is float16 and its config sets force_upcast (SDXL's VAE overflows in fp16; bf16 has fp32's range, as in diffusers).
    /// </summary>
    /// <param name="device">Where to put the weights (default CPU).</param>
    /// <param name="dtype">Compute dtype (default float32).</param>
    /// <param name="progress">Receives each component's name as it starts loading.</param>
    /// <param name="vaeEncoder">
    /// False: leave the VAE's encoder (and quant_conv) on the meta device, 0.14 GB that text-to-image never uses;
    /// <see cref="LoadVaeEncoder"/> loads it when image-to-image first needs it.
    /// </param>
    /// <exception cref="CheckpointMappingException">A component does not map; nothing is loaded.</exception>
    public SdxlModels Load(torch.Device? device = null, torch.ScalarType? dtype = null, IProgress<string>? progress = null, bool vaeEncoder = true)
    {
        var dev = device ?? torch.CPU;
        var type = dtype ?? torch.ScalarType.Float32;
        foreach (var report in Inspect().Where(r => r.Component != "other"))
            if (!report.IsComplete) throw new CheckpointMappingException(Path, report);
        var modules = new Dictionary<string, torch.nn.Module>();
        try
        {
            foreach (var c in ComponentNames)
            {
                progress?.Report(c);
                var componentType = c == "vae" && type == torch.ScalarType.Float16 && Configs.Vae.ForceUpcast ? torch.ScalarType.Float32 : type;
                var module = Build(c, Configs, torch.device("meta"));
                modules[c] = module;
                WeightLoader.Load(c, module, MapFor(c, WeightMap.ShapesOf(module).Keys), _sources[c], componentType, dev,
                    c == "vae" && !vaeEncoder ? name => !AutoencoderKL.IsEncoderParameter(name) : null);
            }
            // A load allocates ~180 MB of short-lived managed objects (names, maps, reports) and frees its staging
            // memory: hand both back to the system before the caller starts generating (measured: -145 MiB resident).
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            Runtime.NativeHeap.Trim();
            return new SdxlModels(Configs, (SdxlUNet)modules["unet"], (ClipTextModel)modules["text_encoder"],
                (ClipTextModel)modules["text_encoder_2"], (AutoencoderKL)modules["vae"], dev, type);
        }
        catch
        {
            foreach (var m in modules.Values) m.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Materializes the encoder of a VAE loaded from this checkpoint with <c>vaeEncoder: false</c>, on the device and
    /// in the dtype of its decoder. Does nothing when the encoder is already loaded.
    /// </summary>
    public void LoadVaeEncoder(AutoencoderKL vae)
    {
        ArgumentNullException.ThrowIfNull(vae);
        if (vae.HasEncoderWeights) return;
        var loaded = vae.parameters().First(p => p.device_type != DeviceType.META);
        WeightLoader.Load("vae", vae, MapFor("vae", WeightMap.ShapesOf(vae).Keys), _sources["vae"], loaded.dtype, loaded.device,
            AutoencoderKL.IsEncoderParameter);
    }

    /// <summary>Unmaps the files.</summary>
    public void Dispose()
    {
        foreach (var s in _sources.Values.Distinct()) s.Dispose();
    }
}
