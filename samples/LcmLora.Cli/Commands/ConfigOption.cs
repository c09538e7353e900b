using System.CommandLine;

namespace LcmLora.Cli.Commands;

/// <summary><c>--config DIR</c>, shared by every command that opens a model.</summary>
public static class ConfigOption
{
    /// <summary>Creates the option.</summary>
    public static Option<string?> Create() => new("--config")
    {
        Description = "Configs for a single file whose shapes leave fields open (heads, norm groups...): a diffusers folder, " +
            "a component folder or a config.json. Fields the shapes determine are checked against it.",
    };
}
