using System.Text.Json;

namespace LcmLora.Schedulers;

/// <summary>
/// The fields of a diffusers <c>scheduler/scheduler_config.json</c> that the LCM and Euler schedulers read. One record
/// serves both, as in diffusers (<c>LCMScheduler.from_config(pipe.scheduler.config)</c> reuses the Euler config of
/// SDXL base). Every field is optional: a missing field takes the SDXL base value (<see cref="SdxlBase"/>), not the
/// per-class diffusers default, so an SDXL folder's config always means the same thing to both schedulers.
/// Options that diffusers knows but this port does not implement are accepted here and refused by the scheduler that
/// would need them (<see cref="SchedulerConfigException"/>).
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary><c>_class_name</c>: the diffusers class the file was written for (informative), or null.</summary>
    public string? ClassName { get; init; }

    /// <summary><c>num_train_timesteps</c> (1000).</summary>
    public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary><c>beta_start</c> (0.00085).</summary>
    public double BetaStart { get; init; } = 0.00085;

    /// <summary><c>beta_end</c> (0.012).</summary>
    public double BetaEnd { get; init; } = 0.012;

    /// <summary><c>beta_schedule</c> (scaled_linear).</summary>
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.ScaledLinear;

    /// <summary><c>trained_betas</c>: explicit betas that replace the schedule when not null (null).</summary>
    public IReadOnlyList<double>? TrainedBetas { get; init; }

    /// <summary><c>prediction_type</c> (epsilon).</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary><c>timestep_spacing</c> (leading). Used by Euler; LCM ignores it.</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading;

    /// <summary><c>steps_offset</c> (1). Used by Euler with leading spacing; LCM ignores it.</summary>
    public int StepsOffset { get; init; } = 1;

    /// <summary><c>set_alpha_to_one</c> (false). LCM only; without effect on the LCM schedules (see reference facts §1.1).</summary>
    public bool SetAlphaToOne { get; init; }

    /// <summary><c>original_inference_steps</c> (50): the LCM distillation grid size.</summary>
    public int OriginalInferenceSteps { get; init; } = 50;

    /// <summary><c>timestep_scaling</c> (10): LCM boundary-condition time scale.</summary>
    public double TimestepScaling { get; init; } = 10.0;

    /// <summary><c>clip_sample</c> (false): LCM clamps its x0 estimate to ±<see cref="ClipSampleRange"/> when set.</summary>
    public bool ClipSample { get; init; }

    /// <summary><c>clip_sample_range</c> (1.0).</summary>
    public double ClipSampleRange { get; init; } = 1.0;

    /// <summary><c>thresholding</c> (false). Dynamic thresholding is not implemented; LCM refuses true.</summary>
    public bool Thresholding { get; init; }

    /// <summary><c>rescale_betas_zero_snr</c> (false). Not implemented; refused when true.</summary>
    public bool RescaleBetasZeroSnr { get; init; }

    /// <summary><c>interpolation_type</c> ("linear"). Euler implements only "linear".</summary>
    public string InterpolationType { get; init; } = "linear";

    /// <summary><c>use_karras_sigmas</c> (false). Not implemented; Euler refuses true.</summary>
    public bool UseKarrasSigmas { get; init; }

    /// <summary><c>use_exponential_sigmas</c> (false). Not implemented; Euler refuses true.</summary>
    public bool UseExponentialSigmas { get; init; }

    /// <summary><c>use_beta_sigmas</c> (false). Not implemented; Euler refuses true.</summary>
    public bool UseBetaSigmas { get; init; }

    /// <summary><c>timestep_type</c> ("discrete"). Euler implements only "discrete".</summary>
    public string TimestepType { get; init; } = "discrete";

    /// <summary><c>final_sigmas_type</c> ("zero"). Euler implements only "zero".</summary>
    public string FinalSigmasType { get; init; } = "zero";

    /// <summary>The SDXL base scheduler (stabilityai/stable-diffusion-xl-base-1.0 scheduler_config.json): every default.</summary>
    public static SchedulerConfig SdxlBase { get; } = new() { ClassName = "EulerDiscreteScheduler" };

    /// <summary>
    /// The scheduler configuration of a model: a diffusers folder's <c>scheduler/scheduler_config.json</c> when there
    /// is one, else null (the SDXL defaults apply).
    /// </summary>
    /// <param name="modelPath">A single file or a diffusers folder.</param>
    public static SchedulerConfig? ForModel(string modelPath)
    {
        var path = Path.Combine(modelPath, "scheduler", "scheduler_config.json");
        return Directory.Exists(modelPath) && File.Exists(path) ? FromJson(path) : null;
    }

    /// <summary>Reads a diffusers <c>scheduler_config.json</c>. Unknown fields are ignored; missing ones take SDXL values.</summary>
    /// <exception cref="SchedulerConfigException">The file is missing or not JSON, or a field has a wrong type or value.</exception>
    public static SchedulerConfig FromJson(string configJsonPath)
    {
        string text;
        try { text = File.ReadAllText(configJsonPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SchedulerConfigException($"Cannot read scheduler config '{configJsonPath}': {e.Message}", e);
        }
        return Parse(text, configJsonPath);
    }

    /// <summary>Parses the text of a <c>scheduler_config.json</c>; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="SchedulerConfigException">Not a JSON object, or a field has a wrong type or value.</exception>
    public static SchedulerConfig Parse(string json, string source = "scheduler_config.json")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new SchedulerConfigException($"Scheduler config '{source}' is not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SchedulerConfigException($"Scheduler config '{source}' must be a JSON object.");
            var r = new Reader(doc.RootElement, source);
            var d = SdxlBase;
            return new SchedulerConfig
            {
                ClassName = r.String("_class_name"),
                NumTrainTimesteps = r.Int("num_train_timesteps") ?? d.NumTrainTimesteps,
                BetaStart = r.Double("beta_start") ?? d.BetaStart,
                BetaEnd = r.Double("beta_end") ?? d.BetaEnd,
                BetaSchedule = r.Enum("beta_schedule", BetaSchedules) ?? d.BetaSchedule,
                TrainedBetas = r.DoubleArray("trained_betas"),
                PredictionType = r.Enum("prediction_type", PredictionTypes) ?? d.PredictionType,
                TimestepSpacing = r.Enum("timestep_spacing", Spacings) ?? d.TimestepSpacing,
                StepsOffset = r.Int("steps_offset") ?? d.StepsOffset,
                SetAlphaToOne = r.Bool("set_alpha_to_one") ?? d.SetAlphaToOne,
                OriginalInferenceSteps = r.Int("original_inference_steps") ?? d.OriginalInferenceSteps,
                TimestepScaling = r.Double("timestep_scaling") ?? d.TimestepScaling,
                ClipSample = r.Bool("clip_sample") ?? d.ClipSample,
                ClipSampleRange = r.Double("clip_sample_range") ?? d.ClipSampleRange,
                Thresholding = r.Bool("thresholding") ?? d.Thresholding,
                RescaleBetasZeroSnr = r.Bool("rescale_betas_zero_snr") ?? d.RescaleBetasZeroSnr,
                InterpolationType = r.String("interpolation_type") ?? d.InterpolationType,
                UseKarrasSigmas = r.Bool("use_karras_sigmas") ?? d.UseKarrasSigmas,
                UseExponentialSigmas = r.Bool("use_exponential_sigmas") ?? d.UseExponentialSigmas,
                UseBetaSigmas = r.Bool("use_beta_sigmas") ?? d.UseBetaSigmas,
                TimestepType = r.String("timestep_type") ?? d.TimestepType,
                FinalSigmasType = r.String("final_sigmas_type") ?? d.FinalSigmasType,
            };
        }
    }

    private static readonly Dictionary<string, BetaSchedule> BetaSchedules = new()
    {
        ["linear"] = BetaSchedule.Linear,
        ["scaled_linear"] = BetaSchedule.ScaledLinear,
        ["squaredcos_cap_v2"] = BetaSchedule.SquaredCosCapV2,
    };

    private static readonly Dictionary<string, PredictionType> PredictionTypes = new()
    {
        ["epsilon"] = PredictionType.Epsilon,
        ["sample"] = PredictionType.Sample,
        ["original_sample"] = PredictionType.Sample,
        ["v_prediction"] = PredictionType.VPrediction,
    };

    private static readonly Dictionary<string, TimestepSpacing> Spacings = new()
    {
        ["linspace"] = TimestepSpacing.Linspace,
        ["leading"] = TimestepSpacing.Leading,
        ["trailing"] = TimestepSpacing.Trailing,
    };

    /// <summary>Typed access to optional fields; null (absent or JSON null) means "use the default".</summary>
    private readonly struct Reader(JsonElement root, string source)
    {
        private JsonElement? Get(string field) =>
            root.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        private SchedulerConfigException Wrong(string field, string expected, JsonElement v) =>
            new($"Scheduler config '{source}': field '{field}' must be {expected}, found {v.GetRawText()}.");

        public int? Int(string field)
        {
            if (Get(field) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i)) return i;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue)
                return (int)d;
            throw Wrong(field, "an integer", v);
        }

        public double? Double(string field)
        {
            if (Get(field) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
            throw Wrong(field, "a number", v);
        }

        public bool? Bool(string field)
        {
            if (Get(field) is not { } v) return null;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Wrong(field, "true or false", v),
            };
        }

        public string? String(string field)
        {
            if (Get(field) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.String) return v.GetString();
            throw Wrong(field, "a string", v);
        }

        public T? Enum<T>(string field, Dictionary<string, T> names) where T : struct
        {
            if (String(field) is not { } s) return null;
            if (names.TryGetValue(s, out var value)) return value;
            throw new SchedulerConfigException(
                $"Scheduler config '{source}': field '{field}' has unknown value \"{s}\"; expected one of {string.Join(", ", names.Keys.Select(k => $"\"{k}\""))}.");
        }

        public IReadOnlyList<double>? DoubleArray(string field)
        {
            if (Get(field) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Array) throw Wrong(field, "an array of numbers or null", v);
            var list = new List<double>();
            foreach (var e in v.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number) throw Wrong(field, "an array of numbers or null", v);
                list.Add(e.GetDouble());
            }
            return list.AsReadOnly();
        }
    }
}
