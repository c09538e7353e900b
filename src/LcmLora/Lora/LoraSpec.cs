using System.Globalization;

namespace LcmLora.Lora;

/// <summary>One LoRA and its weight, e.g. to bake into a checkpoint with <see cref="CheckpointLoraFusion.Fuse"/>.</summary>
/// <param name="Path">The LoRA file (or, for an app that resolves them, a Hugging Face reference).</param>
/// <param name="Weight">Its adapter weight (1.0 for LCM-LoRA, e.g. 0.8 for a style).</param>
public sealed record LoraSpec(string Path, double Weight = 1.0)
{
    /// <summary>
    /// Parses <c>PATH[:WEIGHT]</c>, the form command lines and config files use (<c>style.safetensors:0.8</c>): the part
    /// after the last ':' is the weight, unless the whole value names an existing file or the ':' is a Windows drive's
    /// (<c>C:\loras\style.safetensors</c>); with no weight it is 1.0. The path is returned as given.
    /// </summary>
    /// <exception cref="LcmLoraInputException">The weight is not a finite number; the message starts with <paramref name="value"/>.</exception>
    public static LoraSpec Parse(string value)
    {
        var colon = value.LastIndexOf(':');
        var isDrive = colon == 1 && char.IsAsciiLetter(value[0]);
        if (colon <= 0 || isDrive || File.Exists(value)) return new LoraSpec(value);
        var text = value[(colon + 1)..];
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
            throw new LcmLoraInputException($"{value}: the weight '{text}' is not a number (PATH[:WEIGHT], e.g. style.safetensors:0.8).");
        if (!double.IsFinite(weight)) throw new LcmLoraInputException($"{value}: the weight must be a finite number; got '{text}'.");
        return new LoraSpec(value[..colon], weight);
    }
}
