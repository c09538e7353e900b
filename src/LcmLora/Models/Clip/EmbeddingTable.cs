using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LcmLora.Models.Clip;

/// <summary>
/// A lookup table with one parameter, <c>weight</c> <c>[count, dim]</c>: the rows of <c>nn.Embedding</c> without its
/// native constructor. TorchSharp 0.107's <c>nn.Embedding</c> allocates and randomly initialises the table on the CPU
/// even when asked for the meta device (0.2-0.25 GB per SDXL text encoder, held until finalizers run); this table is
/// created with <c>torch.empty</c> on the requested device, so a meta build costs nothing and the checkpoint loader
/// materializes it like any other parameter.
/// </summary>
internal sealed class EmbeddingTable : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the table: standard-normal values like <c>nn.Embedding</c> on real devices, no memory on meta.</summary>
    public EmbeddingTable(long count, long dim, Device? device = null, ScalarType? dtype = null) : base(nameof(EmbeddingTable))
    {
        using var values = device?.type == DeviceType.META
            ? torch.empty(count, dim, dtype: dtype, device: device)
            : torch.randn(count, dim, dtype: dtype, device: device);
        weight = new Parameter(values, requires_grad: false);
        RegisterComponents();
    }

    /// <summary>The table; settable so a meta-device module can be materialized.</summary>
    public Parameter weight
    {
        get => _weight!;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _weight?.Dispose();
            _weight = (Parameter)value.DetachFromDisposeScope();
            ConditionallyRegisterParameter(nameof(weight), _weight);
        }
    }

    private Parameter? _weight;

    /// <summary>The rows for integer ids of any shape: <c>[..., dim]</c>.</summary>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var rows = _weight!.index_select(0, ids.reshape(-1));
        long[] shape = [.. ids.shape, _weight.shape[1]];
        return rows.view(shape).MoveToOuterDisposeScope();
    }
}
