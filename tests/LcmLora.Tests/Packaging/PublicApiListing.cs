using System.Reflection;
using System.Runtime.CompilerServices;

namespace LcmLora.Tests.Packaging;

/// <summary>
/// The public surface of an assembly as sorted text, one line per public type and per public or protected member
/// declared on it: what an app can see. Built by reflection over the compiled assembly (what ships, including what the
/// compiler generates for records), with nullable annotations, parameter names and default values, so any change a
/// caller could notice changes a line. Hand-written because no served package does it (PublicApiGenerator and
/// Microsoft.CodeAnalysis.PublicApiAnalyzers are not available here).
/// </summary>
internal static class PublicApiListing
{
    public static IReadOnlyList<string> Lines(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            lines.Add(TypeLine(type));
            var members = type.GetMembers(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly);
            foreach (var member in members)
                if (Visible(member) && !member.Name.StartsWith('<') && MemberText(member) is { } text) lines.Add($"{Name(type)}::{text}");
        }
        return [.. lines.Distinct().Order(StringComparer.Ordinal)];
    }

    private static bool Visible(MemberInfo member) => member switch
    {
        MethodBase m => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly,
        FieldInfo f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
        PropertyInfo p => p.GetAccessors(nonPublic: true).Any(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly),
        EventInfo e => e.AddMethod is { } add && (add.IsPublic || add.IsFamily || add.IsFamilyOrAssembly),
        Type t => t.IsNestedPublic || t.IsNestedFamily || t.IsNestedFamORAssem, // listed as types of their own
        _ => false,
    };

    private static string TypeLine(Type type)
    {
        // Records are told by what the compiler generates for them (a clone method; for record structs, PrintMembers).
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var record = type.GetMethod("<Clone>$", Declared) is not null || (type.IsValueType && type.GetMethod("PrintMembers", Declared) is not null);
        var kind = type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? (record ? "record struct" : "struct")
            : typeof(Delegate).IsAssignableFrom(type) ? "delegate" : record ? "record" : "class";
        var modifiers = type.IsInterface || type.IsEnum || type.IsValueType || kind == "delegate" ? (type.IsValueType && type.IsDefined(typeof(IsReadOnlyAttribute), false) ? "readonly " : "")
            : type.IsAbstract && type.IsSealed ? "static " : type.IsAbstract ? "abstract " : type.IsSealed ? "sealed " : "";
        var bases = new List<string>();
        if (type.IsEnum) bases.Add(TypeName(Enum.GetUnderlyingType(type)));
        else if (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && kind != "delegate") bases.Add(TypeName(b));
        if (!type.IsEnum && kind != "delegate")
            bases.AddRange(type.GetInterfaces().Where(i => i.IsPublic || i.IsNestedPublic).Select(i => TypeName(i)).Order(StringComparer.Ordinal));
        if (kind == "delegate")
        {
            var invoke = type.GetMethod("Invoke")!;
            return $"{Name(type)}: public delegate {ReturnText(invoke)} ({Parameters(invoke)})";
        }
        return $"{Name(type)}: public {modifiers}{kind}{(bases.Count > 0 ? " : " + string.Join(", ", bases) : "")}";
    }

    private static string? MemberText(MemberInfo member)
    {
        switch (member)
        {
            case FieldInfo f when f.DeclaringType!.IsEnum:
                return f.IsLiteral ? $"{f.Name} = {Convert.ToInt64(f.GetRawConstantValue())}" : null;
            case FieldInfo f:
                return $"{Access(f.IsPublic)}{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{(f.IsInitOnly ? "readonly " : "")}{TypeName(f.FieldType, new NullabilityInfoContext().Create(f))} {f.Name}"
                    + (f.IsLiteral ? $" = {Literal(f.GetRawConstantValue())}" : "");
            case PropertyInfo p:
                var accessors = p.GetAccessors(nonPublic: true).Where(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly).ToList();
                var first = accessors[0];
                var index = p.GetIndexParameters();
                var name = index.Length > 0 ? $"this[{string.Join(", ", index.Select(Parameter))}]" : p.Name;
                var parts = new List<string>();
                if (p.GetMethod is { } g && accessors.Contains(g)) parts.Add(Access(g.IsPublic, own: first.IsPublic != g.IsPublic) + "get;");
                if (p.SetMethod is { } s && accessors.Contains(s))
                    parts.Add(Access(s.IsPublic, own: first.IsPublic != s.IsPublic) + (IsInitOnly(s) ? "init;" : "set;"));
                return $"{Access(first.IsPublic)}{MethodModifiers(first)}{TypeName(p.PropertyType, new NullabilityInfoContext().Create(p))} {name} {{ {string.Join(" ", parts)} }}";
            case EventInfo e:
                return $"{Access(e.AddMethod!.IsPublic)}{MethodModifiers(e.AddMethod)}event {TypeName(e.EventHandlerType!, new NullabilityInfoContext().Create(e))} {e.Name}";
            case ConstructorInfo c:
                return c.IsStatic ? null : $"{Access(c.IsPublic)}{ShortName(c.DeclaringType!)}({Parameters(c)})";
            case MethodInfo m when m.IsSpecialName && !m.Name.StartsWith("op_", StringComparison.Ordinal):
                return null; // property and event accessors are listed with their property or event
            case MethodInfo m:
                var generic = m.IsGenericMethodDefinition ? $"<{string.Join(", ", m.GetGenericArguments().Select(a => a.Name))}>" : "";
                var extension = m.IsDefined(typeof(ExtensionAttribute), false) ? "this " : "";
                return $"{Access(m.IsPublic)}{MethodModifiers(m)}{ReturnText(m)} {m.Name}{generic}({extension}{Parameters(m)})";
            default:
                return null;
        }
    }

    private static string Access(bool isPublic, bool own = true) => !own ? "" : isPublic ? "public " : "protected ";

    private static string MethodModifiers(MethodInfo m)
    {
        if (m.IsStatic) return "static ";
        if (m.DeclaringType!.IsInterface) return m.IsAbstract ? "" : "virtual ";
        if (m.IsAbstract) return "abstract ";
        var isOverride = m.GetBaseDefinition().DeclaringType != m.DeclaringType;
        if (isOverride) return m.IsFinal ? "sealed override " : "override ";
        return m.IsVirtual && !m.IsFinal ? "virtual " : "";
    }

    private static bool IsInitOnly(MethodInfo setter) =>
        setter.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.FullName == "System.Runtime.CompilerServices.IsExternalInit");

    private static string ReturnText(MethodInfo m) => TypeName(m.ReturnType, new NullabilityInfoContext().Create(m.ReturnParameter));

    private static string Parameters(MethodBase m) => string.Join(", ", m.GetParameters().Select(Parameter));

    private static string Parameter(ParameterInfo p)
    {
        var type = p.ParameterType;
        var prefix = p.IsDefined(typeof(ParamArrayAttribute), false) ? "params " : "";
        if (type.IsByRef)
        {
            prefix = p.IsOut ? "out " : p.IsIn ? "in " : "ref ";
            type = type.GetElementType()!;
        }
        var text = $"{prefix}{TypeName(type, new NullabilityInfoContext().Create(p))} {p.Name}";
        if (!p.HasDefaultValue) return text;
        // A struct parameter's `= default` reads back as null.
        return $"{text} = {(p.DefaultValue is null && type.IsValueType && Nullable.GetUnderlyingType(type) is null ? "default" : Literal(p.DefaultValue))}";
    }

    private static string Literal(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        Enum e => $"{TypeName(e.GetType())}.{e}",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Name(Type type) => type.IsNested ? $"{Name(type.DeclaringType!)}.{ShortName(type)}" : $"{type.Namespace}.{ShortName(type)}";

    private static string ShortName(Type type)
    {
        var name = type.Name;
        var tick = name.IndexOf('`');
        return tick < 0 ? name : name[..tick] + "<" + string.Join(", ", type.GetGenericArguments().Select(a => a.Name)) + ">";
    }

    private static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(void)] = "void", [typeof(object)] = "object", [typeof(string)] = "string", [typeof(bool)] = "bool",
        [typeof(byte)] = "byte", [typeof(sbyte)] = "sbyte", [typeof(short)] = "short", [typeof(ushort)] = "ushort",
        [typeof(int)] = "int", [typeof(uint)] = "uint", [typeof(long)] = "long", [typeof(ulong)] = "ulong",
        [typeof(float)] = "float", [typeof(double)] = "double", [typeof(decimal)] = "decimal", [typeof(char)] = "char",
    };

    /// <summary>A type as C# writes it, with <c>?</c> where the nullable annotations (when given) say null is allowed.</summary>
    private static string TypeName(Type type, NullabilityInfo? nullability = null)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner) return TypeName(inner, nullability?.GenericTypeArguments.FirstOrDefault()) + "?";
        var mark = nullability is not null && !type.IsValueType && nullability.ReadState == NullabilityState.Nullable ? "?" : "";
        if (type.IsArray) return TypeName(type.GetElementType()!, nullability?.ElementType) + "[" + new string(',', type.GetArrayRank() - 1) + "]" + mark;
        if (type.IsPointer) return TypeName(type.GetElementType()!) + "*";
        if (type.IsGenericParameter) return type.Name + mark;
        if (Keywords.TryGetValue(type, out var keyword)) return keyword + mark;
        var name = type.IsNested ? TypeName(type.DeclaringType!) + "." + type.Name : (type.Namespace is { Length: > 0 } ns && !ns.StartsWith("System", StringComparison.Ordinal) ? ns + "." : "") + type.Name;
        if (!type.IsGenericType) return name + mark;
        var args = type.GetGenericArguments();
        var own = type.IsNested ? args.Skip(type.DeclaringType!.GetGenericArguments().Length).ToArray() : args;
        var tick = name.LastIndexOf('`');
        if (tick >= 0) name = name[..tick];
        if (own.Length == 0) return name + mark;
        var offset = args.Length - own.Length;
        var argNames = own.Select((a, i) => TypeName(a, nullability is { GenericTypeArguments.Length: > 0 } n && n.GenericTypeArguments.Length == args.Length ? n.GenericTypeArguments[offset + i] : null));
        return $"{name}<{string.Join(", ", argNames)}>{mark}";
    }
}
