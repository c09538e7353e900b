using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;

namespace LcmLora.Checkpoints;

/// <summary>
/// Gives a module built on the meta device (shapes only, no memory) real parameters, one at a time, each produced
/// directly in its final dtype and device (typically read from a memory-mapped checkpoint). Building on meta and
/// materializing from the file avoids random initialization of billions of weights and any second copy of them.
/// </summary>
/// <remarks>
/// TorchSharp's layers (Linear, Conv2d, GroupNorm, LayerNorm, Embedding...) expose each parameter as a settable
/// property named like the parameter; setting it re-registers the parameter, which is what this class relies on.
/// </remarks>
internal static class ModuleMaterializer
{
    /// <summary>Where each parameter of <paramref name="root"/> lives: owning module and leaf name, by full name.</summary>
    public static Dictionary<string, (torch.nn.Module Owner, string Leaf)> Owners(torch.nn.Module root)
    {
        var owners = new Dictionary<string, (torch.nn.Module, string)>(StringComparer.Ordinal);
        foreach (var (prefix, module) in root.named_modules().Prepend(("", root)))
            foreach (var (leaf, _) in module.named_parameters(recurse: false))
                owners.TryAdd(prefix.Length == 0 ? leaf : prefix + "." + leaf, (module, leaf));
        return owners;
    }

    /// <summary>Replaces one parameter with <paramref name="value"/> (which the module then owns).</summary>
    /// <exception cref="NotSupportedException">The owning module exposes no settable property for it.</exception>
    public static void Replace(torch.nn.Module owner, string leaf, torch.Tensor value)
    {
        var property = owner.GetType().GetProperty(leaf, BindingFlags.Public | BindingFlags.Instance);
        if (property is null || !property.CanWrite || !property.PropertyType.IsAssignableFrom(typeof(Parameter)))
            throw new NotSupportedException($"{owner.GetType().Name} has no settable parameter property '{leaf}'.");
        property.SetValue(owner, new Parameter(value, requires_grad: false));
    }
}
