using System.Reflection;
using Xunit;

namespace LcmLora.Tests;

/// <summary>
/// Every test class has exactly one category (README "Tests"), so <c>dotnet test --filter Category=unit</c> and friends
/// select the whole suite between them: unit (seconds, no model forward worth timing), parity (tiny models against the
/// Python fixtures), cli (the lcmlora commands), integration (the server sample over HTTP), packaging (dotnet pack and a consuming app), slow (long loops).
/// </summary>
[Trait("Category", "unit")]
public class TestCategoryTests
{
    public static readonly string[] Categories = ["unit", "parity", "cli", "integration", "packaging", "slow"];

    [Fact]
    public void EveryTestClassHasExactlyOneKnownCategory()
    {
        var classes = typeof(TestCategoryTests).Assembly.GetTypes()
            .Where(t => t.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any()))
            .ToList();
        Assert.True(classes.Count > 50, $"found only {classes.Count} test classes");
        var wrong = classes
            .Select(t => (Type: t, Values: t.GetCustomAttributesData()
                .Where(a => a.AttributeType == typeof(TraitAttribute) && (string?)a.ConstructorArguments[0].Value == "Category")
                .Select(a => (string?)a.ConstructorArguments[1].Value).ToList()))
            .Where(x => x.Values.Count != 1 || !Categories.Contains(x.Values[0]))
            .Select(x => $"{x.Type.FullName}: [{string.Join(", ", x.Values)}]")
            .ToList();
        Assert.True(wrong.Count == 0, "add [Trait(\"Category\", \"unit|parity|cli|integration|packaging|slow\")] to: " + string.Join("; ", wrong));
    }
}
