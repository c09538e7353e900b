using System.Text.RegularExpressions;

namespace LcmLora.Checkpoints;

/// <summary>
/// One row of a declarative renaming table: a pattern over OUR module path (diffusers naming) and a function
/// that renders the matching path in another naming scheme. Tables are applied forward, to names our modules
/// define, so incoming keys are never parsed.
/// </summary>
/// <param name="Pattern">Anchored regex over our module path.</param>
/// <param name="Render">Builds the other scheme's path from the match.</param>
internal sealed record NameRule(Regex Pattern, Func<Match, string> Render)
{
    /// <summary>Creates a rule from a regex pattern (anchored automatically).</summary>
    public static NameRule Of(string pattern, Func<Match, string> render) =>
        new(new Regex("^" + pattern + "$", RegexOptions.CultureInvariant | RegexOptions.Compiled), render);

    /// <summary>A rule for one fixed name.</summary>
    public static NameRule Fixed(string ours, string theirs) => Of(Regex.Escape(ours), _ => theirs);

    /// <summary>Renders <paramref name="path"/> with the first rule that matches, or null when none does.</summary>
    public static string? Apply(IEnumerable<NameRule> rules, string path)
    {
        foreach (var rule in rules)
        {
            var m = rule.Pattern.Match(path);
            if (m.Success) return rule.Render(m);
        }
        return null;
    }

    /// <summary>Splits a parameter name into module path and leaf (<c>a.b.weight</c> to <c>a.b</c>, <c>weight</c>).</summary>
    public static (string Module, string Leaf) Split(string parameterName)
    {
        var dot = parameterName.LastIndexOf('.');
        return dot < 0 ? ("", parameterName) : (parameterName[..dot], parameterName[(dot + 1)..]);
    }

    /// <summary>Integer group of a match.</summary>
    public static int Int(Match m, string group) => int.Parse(m.Groups[group].Value, System.Globalization.CultureInfo.InvariantCulture);
}
