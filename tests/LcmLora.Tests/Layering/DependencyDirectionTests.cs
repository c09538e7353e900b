using System.Reflection;
using System.Reflection.Emit;
using LcmLora.Checkpoints;
using LcmLora.IO;
using LcmLora.Lora;
using LcmLora.Models;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace LcmLora.Tests.Layering;

/// <summary>
/// The library's dependencies point one way (docs/architecture.md): Pipelines use Lora, Schedulers and Models;
/// Checkpoints alone knows file layouts and loads weights into Models; IO is below everything. Checked on the compiled
/// library, signatures and method bodies (IL) alike, so lambdas, iterators and local functions count too.
/// </summary>
[Trait("Category", "unit")]
public class DependencyDirectionTests
{
    private static readonly Assembly Library = typeof(SafeTensorsFile).Assembly;

    [Theory]
    [InlineData("LcmLora.Models", "LcmLora.Checkpoints")]
    [InlineData("LcmLora.Models", "LcmLora.Lora")]
    [InlineData("LcmLora.Models", "LcmLora.Pipelines")]
    [InlineData("LcmLora.Checkpoints", "LcmLora.Lora")]
    [InlineData("LcmLora.Checkpoints", "LcmLora.Pipelines")]
    [InlineData("LcmLora.IO", "LcmLora.Models")]
    [InlineData("LcmLora.IO", "LcmLora.Checkpoints")]
    [InlineData("LcmLora.IO", "LcmLora.Lora")]
    [InlineData("LcmLora.IO", "LcmLora.Pipelines")]
    public void NoTypeOfALowerLayerUsesAHigherOne(string lower, string higher)
    {
        var uses = AllUses.Value.Where(u => InNamespace(u.User, lower) && InNamespace(u.Used, higher))
            .Select(u => $"{u.Where} uses {u.Used.FullName}").Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(uses.Count == 0, $"{lower} must not depend on {higher}:\n{string.Join("\n", uses.Take(20))}");
    }

    [Fact]
    public void TheScanSeesTheUsesThatExist()
    {
        // Signatures, bodies and generic arguments: a pipeline opens checkpoints, a checkpoint builds models into a
        // Dictionary<ModelComponent, CheckpointTensors>.
        Assert.Contains(AllUses.Value, u => u.User == typeof(LcmLora.Pipelines.SdxlPipeline) && u.Used == typeof(SdxlCheckpoint));
        Assert.Contains(AllUses.Value, u => u.User == typeof(SdxlCheckpoint) && u.Used == typeof(LcmLora.Models.Unet.SdxlUNet));
        Assert.Contains(AllUses.Value, u => u.User == typeof(SdxlCheckpoint) && u.Used == typeof(CheckpointTensors));
    }

    [Fact]
    public void OnlyCheckpointsIoAndLoraFilesOpenSafetensorsFilesAndOnlyCheckpointsLoadWeights()
    {
        bool Opens(MemberInfo m) => m is MethodBase { Name: "Open" } && (m.DeclaringType == typeof(SafeTensorsFile) || m.DeclaringType == typeof(CheckpointTensors));
        bool Loads(MemberInfo m) => m.DeclaringType == typeof(WeightLoader);
        var outside = new List<string>();
        foreach (var (user, where, member) in AllBodyUses.Value)
        {
            var inCheckpoints = InNamespace(user, "LcmLora.Checkpoints");
            // Reading a LoRA file is the LoRA code's own file layout.
            if (Opens(member) && !(inCheckpoints || InNamespace(user, "LcmLora.IO") || Outermost(user) == typeof(LoraFile)))
                outside.Add($"{where} opens a checkpoint file ({member.DeclaringType!.Name}.{member.Name})");
            if (Loads(member) && !inCheckpoints) outside.Add($"{where} loads weights ({member.DeclaringType!.Name}.{member.Name})");
        }
        Assert.True(outside.Count == 0, string.Join("\n", outside.Distinct()));
        // The check sees what it should: the loaders themselves do both.
        Assert.Contains(AllBodyUses.Value, u => Outermost(u.User) == typeof(SdxlCheckpoint) && Loads(u.Member));
        Assert.Contains(AllBodyUses.Value, u => Outermost(u.User) == typeof(LoraFile) && Opens(u.Member));
    }

    /// <summary>
    /// Component names ("unet", "text_encoder", ...) are spelled in one table, <see cref="ModelComponents.Name"/>;
    /// everything else uses <see cref="ModelComponent"/>. String literals only: comments and XML docs may name them.
    /// </summary>
    [Fact]
    public void ComponentNamesAreSpelledOnlyInTheirTable()
    {
        var names = Enum.GetValues<ModelComponent>().Select(c => c.Name()).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("text_encoder_2", names);
        var table = Path.Combine("src", "LcmLora", "Models", "ModelComponent.cs");
        var found = new List<string>();
        var tableLiterals = 0;
        foreach (var dir in new[] { Path.Combine("src", "LcmLora"), "samples" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Fixtures.RepoRoot, dir), "*.cs", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(Fixtures.RepoRoot, file);
                if (relative.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj")) continue;
                var literals = CSharpSyntaxTree.ParseText(File.ReadAllText(file)).GetRoot().DescendantTokens()
                    .Where(t => t.IsKind(SyntaxKind.StringLiteralToken) && names.Contains(t.ValueText)).ToList();
                if (relative == table) tableLiterals = literals.Count;
                else found.AddRange(literals.Select(t => $"{relative}:{t.GetLocation().GetLineSpan().StartLinePosition.Line + 1}: {t.Text}"));
            }
        Assert.Equal(names.Count, tableLiterals);
        Assert.True(found.Count == 0, "use ModelComponent and .Name() instead of:\n" + string.Join("\n", found));
    }

    private static bool InNamespace(Type t, string ns) => t.Namespace is { } n && (n == ns || n.StartsWith(ns + ".", StringComparison.Ordinal));

    private static Type Outermost(Type t)
    {
        while (t.DeclaringType is { } outer) t = outer;
        return t;
    }

    private sealed record Use(Type User, string Where, Type Used);

    /// <summary>Every library type each library type uses: in its base types, fields and signatures, and in its method bodies.</summary>
    private static readonly Lazy<List<Use>> AllUses = new(FindUses);

    private static List<Use> FindUses()
    {
        var uses = new List<Use>();
        foreach (var type in Library.GetTypes())
        {
            void Add(string where, Type? used)
            {
                foreach (var t in Constituents(used)) uses.Add(new Use(type, where, t));
            }
            Add(type.FullName!, type.BaseType);
            foreach (var i in type.GetInterfaces()) Add(type.FullName!, i);
            foreach (var f in type.GetFields(Declared)) Add($"{type.FullName}.{f.Name}", f.FieldType);
            foreach (var m in Methods(type))
            {
                if (m is MethodInfo mi) Add($"{type.FullName}.{m.Name}", mi.ReturnType);
                foreach (var p in m.GetParameters()) Add($"{type.FullName}.{m.Name}", p.ParameterType);
                foreach (var member in BodyUses(m))
                {
                    Add($"{type.FullName}.{m.Name}", member as Type ?? member.DeclaringType);
                    if (member is MethodInfo { IsGenericMethod: true } generic)
                        foreach (var arg in generic.GetGenericArguments()) Add($"{type.FullName}.{m.Name}", arg);
                }
            }
        }
        return uses;
    }

    /// <summary>Every member each library type's method bodies use.</summary>
    private static readonly Lazy<List<(Type User, string Where, MemberInfo Member)>> AllBodyUses = new(() =>
        [.. Library.GetTypes().SelectMany(t => Methods(t).SelectMany(m => BodyUses(m).Select(member => (t, $"{t.FullName}.{m.Name}", member))))]);

    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<MethodBase> Methods(Type type) =>
        type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared));

    /// <summary>A type and the types it is made of (element types, generic arguments), library types only.</summary>
    private static IEnumerable<Type> Constituents(Type? type)
    {
        if (type is null) yield break;
        if (type.HasElementType)
        {
            foreach (var t in Constituents(type.GetElementType())) yield return t;
            yield break;
        }
        if (type.IsGenericParameter) yield break;
        if (type.Assembly == Library) yield return type;
        if (type.IsGenericType)
            foreach (var arg in type.GetGenericArguments())
                foreach (var t in Constituents(arg)) yield return t;
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).GroupBy(o => o.Value).ToDictionary(g => g.Key, g => g.First());

    /// <summary>The members and types a method body refers to (call, newobj, ldfld, ldtoken, castclass, ... operands).</summary>
    private static IEnumerable<MemberInfo> BodyUses(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var i = 0; i < il.Length;)
        {
            var op = il[i] == 0xFE ? OpCodesByValue[unchecked((short)(0xFE00 | il[i + 1]))] : OpCodesByValue[il[i]];
            i += op.Size;
            switch (op.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    yield return method.Module.ResolveMember(BitConverter.ToInt32(il, i), typeArgs, methodArgs)!;
                    i += 4;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    i += 8;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + 4 * BitConverter.ToInt32(il, i);
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    i += 4;
                    break;
            }
        }
    }
}
