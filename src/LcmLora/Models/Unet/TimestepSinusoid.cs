using TorchSharp;
using static TorchSharp.torch;

namespace LcmLora.Models.Unet;

/// <summary>
/// diffusers <c>Timesteps</c> / <c>get_timestep_embedding</c>: each value t becomes
/// [sin(t f_i), cos(t f_i)] with f_i = exp(-ln(10000) i / (half - freq_shift)), i &lt; half, swapped to [cos, sin]
/// when flip_sin_to_cos, zero-padded to an odd width. Computed in float32 like diffusers. Holds no parameters; the
/// frequency table is built once per device and kept out of any state_dict.
/// </summary>
internal sealed class TimestepSinusoid : IDisposable
{
    private readonly int _dim;
    private readonly bool _flipSinToCos;
    private readonly double _freqShift;
    private readonly object _gate = new();
    private Tensor? _frequencies;

    /// <summary>Creates the encoding of width <paramref name="dim"/>.</summary>
    public TimestepSinusoid(int dim, bool flipSinToCos, double freqShift)
    {
        if (dim < 2) throw new ArgumentOutOfRangeException(nameof(dim), dim, "Sinusoid width must be at least 2.");
        _dim = dim;
        _flipSinToCos = flipSinToCos;
        _freqShift = freqShift;
    }

    /// <summary>Encodes the values of a 1-D tensor (any numeric dtype) to float32 <c>[N, dim]</c> on its device.</summary>
    public Tensor Encode(Tensor values)
    {
        using var scope = NewDisposeScope();
        var angles = values.to(ScalarType.Float32).unsqueeze(1) * Frequencies(values.device).unsqueeze(0);
        var (first, second) = _flipSinToCos ? (angles.cos(), angles.sin()) : (angles.sin(), angles.cos());
        var encoded = cat(new[] { first, second }, 1);
        if (_dim % 2 == 1) encoded = nn.functional.pad(encoded, new long[] { 0, 1 });
        return encoded.MoveToOuterDisposeScope();
    }

    private Tensor Frequencies(Device device)
    {
        lock (_gate)
        {
            if (_frequencies is not null && _frequencies.device_type == device.type && _frequencies.device_index == device.index)
                return _frequencies;
            var half = _dim / 2;
            using var scope = NewDisposeScope();
            var exponent = arange(0, half, ScalarType.Float32, device) * -Math.Log(10000.0) / (half - _freqShift);
            var table = exponent.exp();
            _frequencies?.Dispose();
            _frequencies = table.DetachFromDisposeScope();
            return _frequencies;
        }
    }

    /// <summary>Frees the cached frequency table.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _frequencies?.Dispose();
            _frequencies = null;
        }
    }
}
