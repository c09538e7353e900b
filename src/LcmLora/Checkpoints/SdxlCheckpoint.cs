using System.Text.Json.Nodes;
using LcmLora.Checkpoints.ShapeInference;
using LcmLora.IO;
using LcmLora.Models;
using LcmLora.Models.Clip;
using LcmLora.Models.Unet;
using LcmLora.Models.Vae;
using TorchSharp;

namespace LcmLora.Checkpoints;

/// <summary>
/// An opened Stable Diffusion checkpoint of any supported family (SDXL and its variants, the SDXL refiner, SD 1.x):
/// a single file in the original layout (SGM / LDM) or a diffusers pipeline folder, memory-mapped, with the configs of
/// its components. A single file's configs are read from its tensor shapes; fields shapes leave open come from the
/// family's defaults or from a supplied config folder (<c>configDir</c>), and a supplied field that contradicts the
/// shapes is an error. <see cref="Inspect"/> checks the key mapping from headers alone; <see cref="Load"/> builds the
/// modules on the meta device and materializes each weight straight from the mapping.
/// </summary>
public sealed class SdxlCheckpoint : IDisposable
{
    private readonly Dictionary<ModelComponent, CheckpointTensors> _sources;
    private readonly FamilyLayout _layout;
    private readonly Dictionary<ModelComponent, ConfigResolver.Resolution> _resolutions;
    private readonly SdxlConfigs? _configs;
    private IReadOnlyList<MappingReport>? _reports;

    private SdxlCheckpoint(string path, CheckpointLayout layout, FamilyLayout family, Dictionary<ModelComponent, CheckpointTensors> sources,
        Dictionary<ModelComponent, ConfigResolver.Resolution> resolutions, SdxlConfigs? explicitConfigs)
    {
        Path = path;
        Layout = layout;
        _layout = family;
        _sources = sources;
        _resolutions = resolutions;
        _configs = explicitConfigs ?? AssembleConfigs();
    }

    /// <summary>The file or folder.</summary>
    public string Path { get; }

    /// <summary>How it is stored.</summary>
    public CheckpointLayout Layout { get; }

    /// <summary>The model family (recognized from the keys or the folder's components).</summary>
    public ModelFamily Family => _layout.Family;

    /// <summary>The components this checkpoint holds, in load order.</summary>
    public IReadOnlyList<ModelComponent> Components => [.. _sources.Keys.OrderBy(c => c)];

    /// <summary>How each component's config was settled (fields, their sources, what is missing).</summary>
    public IReadOnlyList<ComponentConfigReport> ConfigReports => [.. Components.Select(c => _resolutions[c].Report)];

    /// <summary>True when every component's config is complete (so the model can be loaded and <see cref="SizeMultiple"/> is known).</summary>
    public bool HasCompleteConfigs => _configs is not null;

    /// <summary>The components' architecture.</summary>
    /// <exception cref="ModelConfigException">A config is incomplete or conflicts with the shapes (the message says which fields), or the
    /// checkpoint lacks a UNet or VAE.</exception>
    internal SdxlConfigs Configs => _configs ?? throw IncompleteError();

    /// <summary>Image width and height must be multiples of this (64 for SDXL: the VAE's factor 8 times the UNet's downsamplings).</summary>
    /// <exception cref="ModelConfigException">The configs are incomplete (see <see cref="ConfigReports"/>).</exception>
    public int SizeMultiple => Configs.SizeMultiple;

    /// <summary>
    /// Opens a checkpoint. For a single file the configs are read from the tensor shapes, completed from
    /// <paramref name="configDir"/> (a diffusers folder or component folders with config.json files) or the family's
    /// defaults.
    /// </summary>
    /// <param name="path">A <c>.safetensors</c> single file or a diffusers pipeline folder.</param>
    /// <param name="configDir">Configs for fields the shapes leave open (a non-standard file): a diffusers pipeline
    /// folder, a component folder, or a config.json file. For a diffusers folder, replaces the folder's own configs.</param>
    /// <param name="variant">For diffusers folders: prefer weight files of this variant (e.g. "fp16").</param>
    /// <exception cref="ModelConfigException">The configs cannot be completed or conflict with the shapes.</exception>
    public static SdxlCheckpoint Open(string path, string? configDir = null, string? variant = null) => Open(path, null, variant, configDir);

    /// <summary>As <see cref="Open(string, string?, string?)"/>; <paramref name="configs"/>, when given, is the complete
    /// architecture, used as it is instead of shape inference.</summary>
    internal static SdxlCheckpoint Open(string path, SdxlConfigs? configs, string? variant = null, string? configDir = null)
    {
        var checkpoint = OpenForInspection(path, configDir, variant, configs);
        if (checkpoint.HasCompleteConfigs) return checkpoint;
        var error = checkpoint.IncompleteError();
        checkpoint.Dispose();
        throw error;
    }

    /// <summary>
    /// Opens a checkpoint even when its configs cannot be completed (for reports such as <c>lcmlora inspect</c>):
    /// <see cref="ConfigReports"/> then names the missing fields and <see cref="Inspect"/> still checks the key mapping.
    /// </summary>
    public static SdxlCheckpoint OpenForInspection(string path, string? configDir = null, string? variant = null) => OpenForInspection(path, configDir, variant, null);

    internal static SdxlCheckpoint OpenForInspection(string path, string? configDir, string? variant, SdxlConfigs? configs)
    {
        var supplied = configDir is null ? null : SuppliedConfigs.Read(configDir);
        if (Directory.Exists(path)) return OpenFolder(path, configs, variant, supplied);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder.", path);
        var source = CheckpointTensors.Open(path);
        try
        {
            if (!source.Keys.Any(k => k.StartsWith(UNetSgmNames.CheckpointPrefix, StringComparison.Ordinal)))
                throw new LcmLoraInputException($"{path}: not a single-file Stable Diffusion checkpoint (no '{UNetSgmNames.CheckpointPrefix}*' keys). " +
                    "LoRA files are inspected with 'lcmlora inspect LORA'; diffusers components need their pipeline folder.");
            var layout = FamilyLayout.Detect(source.Keys);
            var sources = layout.PresentIn(source.Keys).ToDictionary(c => c, _ => source);
            var resolutions = sources.Keys.ToDictionary(c => c, c => ConfigResolver.Resolve(c, layout.Family,
                Infer(c, layout, source), supplied?.For(c, layout.Family), supplied?.Describe(c) ?? path));
            return new SdxlCheckpoint(path, CheckpointLayout.SgmSingleFile, layout, sources, resolutions, configs);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>Whether <paramref name="file"/> is a single-file Stable Diffusion checkpoint (it holds <c>model.diffusion_model.*</c>
    /// UNet keys), as opposed to a LoRA, a component or another tensor file; from the header alone.</summary>
    public static bool IsSingleFileCheckpoint(SafeTensorsFile file) =>
        file.Tensors.Any(t => t.Name.StartsWith(UNetSgmNames.CheckpointPrefix, StringComparison.Ordinal));

    private static JsonObject Infer(ModelComponent component, FamilyLayout layout, CheckpointTensors source)
    {
        var shapes = new KeyShapes(source, layout.PrefixOf(component));
        return component switch
        {
            ModelComponent.Unet => UNetShapeInference.Infer(shapes),
            ModelComponent.Vae => VaeShapeInference.Infer(shapes),
            _ => ClipShapeInference.Infer(shapes, layout.TextEncoders[component].OpenClip),
        };
    }

    private static SdxlCheckpoint OpenFolder(string path, SdxlConfigs? configs, string? variant, SuppliedConfigs? supplied)
    {
        var folder = DiffusersFolder.Open(path);
        var present = ModelComponents.All.Where(c => folder.ComponentDir(c) is not null).ToList();
        var sources = new Dictionary<ModelComponent, CheckpointTensors>();
        try
        {
            foreach (var c in present) sources[c] = CheckpointTensors.Open([.. folder.WeightFiles(c, variant)]);
            var layout = FamilyLayout.Of(FolderFamily(present, folder));
            var own = new SuppliedConfigs(folder.Root);
            var resolutions = present.ToDictionary(c => c, c => ConfigResolver.Resolve(c, layout.Family, null,
                (supplied ?? own).For(c, layout.Family) ?? own.For(c, layout.Family), (supplied ?? own).Describe(c)));
            return new SdxlCheckpoint(folder.Root, CheckpointLayout.Diffusers, layout, sources, resolutions, configs);
        }
        catch
        {
            foreach (var s in sources.Values) s.Dispose();
            throw;
        }
    }

    private static ModelFamily FolderFamily(IReadOnlyList<ModelComponent> present, DiffusersFolder folder)
    {
        if (present.Contains(ModelComponent.TextEncoder2)) return present.Contains(ModelComponent.TextEncoder) ? ModelFamily.Sdxl : ModelFamily.SdxlRefiner;
        if (present.Contains(ModelComponent.TextEncoder)) return ModelFamily.Sd15;
        // No text encoder: an SDXL-family UNet has an add-embedding.
        var unet = System.IO.Path.Combine(folder.Root, ModelComponent.Unet.Name(), "config.json");
        return File.Exists(unet) && ConfigResolver.ReadObject(unet)["addition_embed_type"] is null ? ModelFamily.Sd15 : ModelFamily.Sdxl;
    }

    private SdxlConfigs? AssembleConfigs()
    {
        if (_resolutions.Values.Any(r => r.Config is null)) return null;
        if (!_resolutions.ContainsKey(ModelComponent.Unet) || !_resolutions.ContainsKey(ModelComponent.Vae)) return null;
        ClipTextConfig? Clip(ModelComponent c) => _resolutions.TryGetValue(c, out var r) ? (ClipTextConfig)r.Config! : null;
        return new SdxlConfigs((UNetConfig)_resolutions[ModelComponent.Unet].Config!, Clip(ModelComponent.TextEncoder),
            Clip(ModelComponent.TextEncoder2), (VaeConfig)_resolutions[ModelComponent.Vae].Config!) { Family = Family };
    }

    private ModelConfigException IncompleteError()
    {
        var problems = new List<string>();
        foreach (var r in ConfigReports)
        {
            if (r.Problem is not null) problems.Add(r.Problem);
            if (r.Missing.Count > 0)
                problems.Add($"{r.Component}: the shapes do not determine {string.Join(", ", r.Missing)} and neither does a config or the {Family.Name} defaults");
        }
        foreach (var c in new[] { ModelComponent.Unet, ModelComponent.Vae })
            if (!_sources.ContainsKey(c)) problems.Add($"the checkpoint holds no {c.Name()}");
        return new ModelConfigException(Path, "", string.Join("; ", problems) +
            ". Pass the model's configs with --config DIR (a diffusers folder or config.json files; API: configDir).");
    }

    /// <summary>The tensors of a component.</summary>
    internal CheckpointTensors SourceFor(ModelComponent component) => _sources[component];

    /// <summary>The map from our parameter names to this checkpoint's keys for a component.</summary>
    internal WeightMap MapFor(ModelComponent component, IEnumerable<string> ourNames)
    {
        var names = ourNames.ToList();
        if (Layout == CheckpointLayout.Diffusers) return WeightMap.Identity(names);
        return component switch
        {
            ModelComponent.Unet => new UNetSgmNames(names, UniformLayersPerBlock(ShapeConfig<UNetConfig>(component))).CheckpointMap(names),
            ModelComponent.Vae => new VaeSgmNames(ShapeConfig<VaeConfig>(component).BlockOutChannels.Count).CheckpointMap(names),
            _ => _layout.TextEncoders[component] is var t && t.OpenClip
                ? ClipSgmKeyMap.ForOpenClipBigG(names, t.Prefix)
                : ClipSgmKeyMap.ForClipL(names, t.Prefix),
        };
    }

    private T ShapeConfig<T>(ModelComponent component) where T : class =>
        _configs is not null ? (T)_configs.ConfigOf(component) : _resolutions[component].ShapeConfig as T ?? throw IncompleteError();

    private static int UniformLayersPerBlock(UNetConfig c) =>
        c.LayersPerBlock.Distinct().Count() == 1
            ? c.LayersPerBlock[0]
            : throw new LcmLoraInputException($"{c.Source}: the original single-file layout needs the same layers_per_block for every block.");

    /// <summary>
    /// How every component maps onto this checkpoint, from headers only (no weights are read). Computed once: the
    /// headers and configs cannot change while the checkpoint is open. A component whose config is incomplete is
    /// checked with placeholders for the fields that do not change any shape (heads, norm groups).
    /// </summary>
    public IReadOnlyList<MappingReport> Inspect() => _reports ??= InspectAll();

    private IReadOnlyList<MappingReport> InspectAll()
    {
        var reports = new List<MappingReport>();
        foreach (var c in Components)
        {
            var config = _configs is not null ? _configs.ConfigOf(c) : _resolutions[c].ShapeConfig;
            if (config is null) continue;
            using var module = SdxlConfigs.BuildModule(c, config, torch.device("meta"), null);
            var shapes = WeightMap.ShapesOf(module);
            reports.Add(MappingReport.Build(c.Name(), shapes, MapFor(c, shapes.Keys), _sources[c]));
        }
        if (Layout == CheckpointLayout.SgmSingleFile) reports.Add(LeftoverReport(_sources[ModelComponent.Unet]));
        return reports;
    }

    private static MappingReport LeftoverReport(CheckpointTensors source)
    {
        var prefixes = FamilyLayout.AllPrefixes.ToList();
        var other = source.Keys.Where(k => !prefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal)) && !WeightMap.IsCommonlyIgnorable(k))
            .Order(StringComparer.Ordinal).ToList();
        return new MappingReport("other", 0, [], other, []);
    }

    /// <summary>
    /// Builds and loads the modules. Weights are read one tensor at a time from the memory mapping directly in
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
    /// <param name="cancellationToken">Checked between tensor reads; a cancelled load frees what it loaded.</param>
    /// <param name="releaseMemory">Collect and compact the managed heap and trim the native heap afterwards.</param>
    /// <exception cref="CheckpointMappingException">A component does not map; nothing is loaded.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    internal SdxlModels Load(torch.Device? device = null, torch.ScalarType? dtype = null, IProgress<string>? progress = null, bool vaeEncoder = true,
        CancellationToken cancellationToken = default, bool releaseMemory = true)
    {
        var configs = Configs;
        var dev = device ?? torch.CPU;
        var type = dtype ?? torch.ScalarType.Float32;
        foreach (var report in Inspect().Where(r => r.Component != "other"))
            if (!report.IsComplete) throw new CheckpointMappingException(Path, report);
        var modules = new Dictionary<ModelComponent, torch.nn.Module>();
        try
        {
            foreach (var c in Components)
            {
                progress?.Report(c.Name());
                var componentType = c == ModelComponent.Vae && type == torch.ScalarType.Float16 && configs.Vae.ForceUpcast ? torch.ScalarType.Float32 : type;
                modules[c] = LoadInto(c, configs.Build(c, torch.device("meta")), componentType, dev,
                    c == ModelComponent.Vae && !vaeEncoder ? name => !AutoencoderKL.IsEncoderParameter(name) : null, cancellationToken);
            }
            // A load allocates ~180 MB of short-lived managed objects (names, maps, reports) and frees its staging
            // memory: hand both back to the system before the caller starts generating (measured: -145 MiB resident).
            // PipelineOptions.ReleaseMemoryAfterLoad turns it off for apps that manage collections themselves.
            if (releaseMemory)
            {
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                Runtime.NativeHeap.Trim();
            }
            return new SdxlModels(configs, (SdxlUNet)modules[ModelComponent.Unet], modules.GetValueOrDefault(ModelComponent.TextEncoder) as ClipTextModel,
                modules.GetValueOrDefault(ModelComponent.TextEncoder2) as ClipTextModel, (AutoencoderKL)modules[ModelComponent.Vae], dev, type);
        }
        catch
        {
            foreach (var m in modules.Values) m.Dispose();
            throw;
        }
    }

    private torch.nn.Module LoadInto(ModelComponent c, torch.nn.Module module, torch.ScalarType dtype, torch.Device device, Func<string, bool>? include = null,
        CancellationToken cancellationToken = default)
    {
        try
        {
            WeightLoader.Load(c.Name(), module, MapFor(c, WeightMap.ShapesOf(module).Keys), _sources[c], dtype, device, include, cancellationToken);
            return module;
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads one component on its own (built on the meta device, each weight materialized from the mapping), in eval
    /// mode: for work on one component (benchmarks, baking LoRAs into the file) that needs neither the memory nor the
    /// load time of the others.
    /// </summary>
    /// <param name="component">One of <see cref="Components"/>.</param>
    /// <param name="dtype">The dtype to load in; default: as the file stores the component's weights (float16, bfloat16
    /// or float64 as they are, anything else as float32).</param>
    /// <param name="device">Where to put the weights (default CPU).</param>
    /// <param name="cancellationToken">Checked between tensor reads; a cancelled load frees what it loaded.</param>
    /// <exception cref="CheckpointMappingException">The component does not map; nothing is loaded.</exception>
    internal torch.nn.Module LoadComponent(ModelComponent component, torch.ScalarType? dtype = null, torch.Device? device = null,
        CancellationToken cancellationToken = default)
    {
        if (!_sources.ContainsKey(component)) throw new LcmLoraInputException($"{Path}: holds no {component.Name()}.");
        var module = Configs.Build(component, torch.device("meta"));
        torch.ScalarType type;
        try { type = dtype ?? StoredFloatType(component, WeightMap.ShapesOf(module).Keys); }
        catch
        {
            module.Dispose();
            throw;
        }
        LoadInto(component, module, type, device ?? torch.CPU, cancellationToken: cancellationToken).eval();
        return module;
    }

    /// <summary>The float type the file stores a component's weights in (read from its first weight's header entry).</summary>
    private torch.ScalarType StoredFloatType(ModelComponent component, IEnumerable<string> ourNames)
    {
        var names = ourNames.ToList();
        var map = MapFor(component, names);
        var stored = _sources[component].Info(map.Entries[names.First(n => n.EndsWith(".weight", StringComparison.Ordinal))].Key).DType.ToScalarType();
        return stored is torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Float64 ? stored : torch.ScalarType.Float32;
    }

    /// <summary>Loads the UNet alone (a UNet-only file or folder, such as a full LCM UNet, replacing a model's own).</summary>
    /// <exception cref="ModelConfigException">The UNet's config is incomplete.</exception>
    internal SdxlUNet LoadUNet(torch.Device? device = null, torch.ScalarType? dtype = null)
    {
        if (!_resolutions.TryGetValue(ModelComponent.Unet, out var resolution)) throw new LcmLoraInputException($"{Path}: holds no UNet.");
        var config = (_configs?.Unet ?? resolution.Config as UNetConfig) ?? throw IncompleteError();
        var report = Inspect().Single(r => r.Component == ModelComponent.Unet.Name());
        if (!report.IsComplete) throw new CheckpointMappingException(Path, report);
        var unet = (SdxlUNet)LoadInto(ModelComponent.Unet, new SdxlUNet(config, torch.device("meta")), dtype ?? torch.ScalarType.Float32, device ?? torch.CPU);
        unet.eval();
        return unet;
    }

    /// <summary>
    /// Opens a UNet on its own: a diffusers <c>unet/</c> folder (config.json + weights), a single file with
    /// <c>model.diffusion_model.*</c> keys, or a pipeline folder or single file holding one.
    /// </summary>
    internal static SdxlCheckpoint OpenUNet(string path, string? configDir = null, string? variant = null)
    {
        if (Directory.Exists(path) && !DiffusersFolder.IsDiffusersFolder(path) && File.Exists(System.IO.Path.Combine(path, "config.json")))
            return OpenUNetFolder(path, configDir, variant);
        return OpenForInspection(path, configDir, variant);
    }

    private static SdxlCheckpoint OpenUNetFolder(string dir, string? configDir, string? variant)
    {
        var files = DiffusersFolder.WeightFilesIn(dir, variant);
        var source = CheckpointTensors.Open([.. files]);
        try
        {
            var config = configDir is null ? System.IO.Path.Combine(dir, "config.json") : SuppliedConfigs.Read(configDir).Describe(ModelComponent.Unet);
            var json = ConfigResolver.ReadObject(config);
            var family = json["addition_embed_type"] is null ? FamilyLayout.Sd15 : FamilyLayout.Sdxl;
            var resolution = ConfigResolver.Resolve(ModelComponent.Unet, family.Family, null, json, config);
            return new SdxlCheckpoint(System.IO.Path.GetFullPath(dir), CheckpointLayout.Diffusers, family,
                new() { [ModelComponent.Unet] = source }, new() { [ModelComponent.Unet] = resolution }, null);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Materializes the encoder of a VAE loaded from this checkpoint with <c>vaeEncoder: false</c>, on the device and
    /// in the dtype of its decoder. Does nothing when the encoder is already loaded.
    /// </summary>
    internal void LoadVaeEncoder(AutoencoderKL vae)
    {
        ArgumentNullException.ThrowIfNull(vae);
        if (vae.HasEncoderWeights) return;
        var loaded = vae.parameters().First(p => p.device_type != DeviceType.META);
        WeightLoader.Load(ModelComponent.Vae.Name(), vae, MapFor(ModelComponent.Vae, WeightMap.ShapesOf(vae).Keys), _sources[ModelComponent.Vae], loaded.dtype, loaded.device,
            AutoencoderKL.IsEncoderParameter);
    }

    /// <summary>Unmaps the files.</summary>
    public void Dispose()
    {
        foreach (var s in _sources.Values.Distinct()) s.Dispose();
    }
}
