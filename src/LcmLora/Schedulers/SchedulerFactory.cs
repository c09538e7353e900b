namespace LcmLora.Schedulers;

/// <summary>
/// Creates schedulers by kind or by name (the CLI's <c>--scheduler lcm|euler</c>) from a scheduler config, as diffusers'
/// <c>XScheduler.from_config(pipe.scheduler.config)</c> does: the config's <c>_class_name</c> does not choose the algorithm.
/// </summary>
public static class SchedulerFactory
{
    private static readonly Dictionary<string, SchedulerKind> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lcm"] = SchedulerKind.Lcm,
        ["LCMScheduler"] = SchedulerKind.Lcm,
        ["euler"] = SchedulerKind.Euler,
        ["euler_discrete"] = SchedulerKind.Euler,
        ["EulerDiscreteScheduler"] = SchedulerKind.Euler,
    };

    /// <summary>The short names accepted by <see cref="ParseKind"/> (also the diffusers class names, any case).</summary>
    public static IReadOnlyList<string> Names { get; } = ["lcm", "euler"];

    /// <summary>Creates a scheduler of <paramref name="kind"/>; null config means <see cref="SchedulerConfig.SdxlBase"/>.</summary>
    /// <exception cref="SchedulerConfigException">The config asks for something the scheduler does not implement.</exception>
    public static IScheduler Create(SchedulerKind kind, SchedulerConfig? config = null) => kind switch
    {
        SchedulerKind.Lcm => new LcmScheduler(config),
        SchedulerKind.Euler => new EulerDiscreteScheduler(config),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown scheduler kind."),
    };

    /// <summary>Creates a scheduler by name ("lcm", "euler", or a diffusers class name).</summary>
    /// <exception cref="SchedulerConfigException">Unknown name, or an unsupported config.</exception>
    public static IScheduler Create(string name, SchedulerConfig? config = null) => Create(ParseKind(name), config);

    /// <summary>Creates a scheduler of <paramref name="kind"/> from a diffusers <c>scheduler_config.json</c>.</summary>
    /// <exception cref="SchedulerConfigException">Unreadable or invalid file, or an unsupported config.</exception>
    public static IScheduler FromConfigFile(SchedulerKind kind, string schedulerConfigJsonPath) =>
        Create(kind, SchedulerConfig.FromJson(schedulerConfigJsonPath));

    /// <summary>Parses a scheduler name; case-insensitive.</summary>
    /// <exception cref="SchedulerConfigException">Unknown name (the message lists the known ones).</exception>
    public static SchedulerKind ParseKind(string name)
    {
        if (TryParseKind(name, out var kind)) return kind;
        throw new SchedulerConfigException($"Unknown scheduler \"{name}\"; expected one of: {string.Join(", ", Names)}.");
    }

    /// <summary>Parses a scheduler name; false when unknown.</summary>
    public static bool TryParseKind(string? name, out SchedulerKind kind)
    {
        kind = default;
        return name != null && Aliases.TryGetValue(name.Trim(), out kind);
    }
}
