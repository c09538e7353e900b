using LcmLora.IO;
using LcmLora.Models.Taesd;

namespace LcmLora.Checkpoints.Taesd;

/// <summary>
/// Where the weights of one TAESD are: a diffusers <c>AutoencoderTiny</c> file (with its <c>config.json</c> when
/// there is one), or the original encoder and/or decoder file. Found by <see cref="Locate"/> from the keys in the
/// safetensors headers, never from file names alone.
/// </summary>
/// <param name="Source">The path the user gave.</param>
/// <param name="Layout">The key layout.</param>
/// <param name="Parts">Which halves the files hold.</param>
/// <param name="DiffusersWeights">The diffusers weights file (<see cref="TaesdLayout.Diffusers"/>), else null.</param>
/// <param name="ConfigJson">The diffusers <c>config.json</c> beside it, when present.</param>
/// <param name="EncoderFile">The original encoder file (<see cref="TaesdLayout.Original"/>), or null.</param>
/// <param name="DecoderFile">The original decoder file (<see cref="TaesdLayout.Original"/>), or null.</param>
internal sealed record TaesdFiles(
    string Source,
    TaesdLayout Layout,
    TaesdParts Parts,
    string? DiffusersWeights,
    string? ConfigJson,
    string? EncoderFile,
    string? DecoderFile)
{
    private static readonly string[] DiffusersWeightNames = ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"];

    private const string Expected =
        "expected a diffusers AutoencoderTiny folder (config.json + diffusion_pytorch_model.safetensors), a folder " +
        "with taesdxl_encoder.safetensors and/or taesdxl_decoder.safetensors, or one of those files";

    /// <summary>
    /// Finds TAESD weights at <paramref name="path"/>:
    /// <list type="bullet">
    /// <item>a file: diffusers layout (its folder's config.json is used when present), or one original file: that
    /// half only (a decoder file alone is enough for decoding and previews);</item>
    /// <item>a folder with <c>diffusion_pytorch_model.safetensors</c> (or <c>.fp16.safetensors</c>): that file;</item>
    /// <item>another folder: its <c>*.safetensors</c> files are classified by their keys; an original encoder and
    /// decoder are paired (either may be missing). When a folder holds several of a kind, the one whose name
    /// contains <c>taesdxl</c> wins; otherwise the choice is refused as ambiguous.</item>
    /// </list>
    /// </summary>
    /// <exception cref="LcmLoraInputException">Nothing there is TAESD (e.g. a full AutoencoderKL VAE), or the choice is ambiguous.</exception>
    public static TaesdFiles Locate(string path)
    {
        if (File.Exists(path)) return FromFile(path, path);
        if (Directory.Exists(path)) return FromFolder(path);
        throw new LcmLoraInputException($"{path}: not found; {Expected}.");
    }

    private static TaesdFiles FromFile(string source, string file)
    {
        var keys = ReadKeys(file);
        var found = TaesdDetector.Detect(keys) ?? throw NotTaesd(file, keys);
        if (found.Layout == TaesdLayout.Diffusers)
        {
            var config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "config.json");
            return new TaesdFiles(source, found.Layout, found.Parts, file, File.Exists(config) ? config : null, null, null);
        }
        return found.Parts == TaesdParts.Encoder
            ? new TaesdFiles(source, TaesdLayout.Original, TaesdParts.Encoder, null, null, file, null)
            : new TaesdFiles(source, TaesdLayout.Original, TaesdParts.Decoder, null, null, null, file);
    }

    private static TaesdFiles FromFolder(string dir)
    {
        foreach (var name in DiffusersWeightNames)
        {
            var weights = Path.Combine(dir, name);
            if (File.Exists(weights)) return FromFile(dir, weights);
        }

        var encoders = new List<string>();
        var decoders = new List<string>();
        var diffusers = new List<string>();
        var others = new List<string>();
        foreach (var file in Directory.EnumerateFiles(dir, "*.safetensors").Order(StringComparer.Ordinal))
        {
            TaesdDetection? found;
            try
            {
                found = TaesdDetector.Detect(ReadKeys(file));
            }
            catch (LcmLoraInputException)
            {
                found = null;
            }
            var bucket = found switch
            {
                { Layout: TaesdLayout.Diffusers } => diffusers,
                { Parts: TaesdParts.Encoder } => encoders,
                { Parts: TaesdParts.Decoder } => decoders,
                _ => others,
            };
            bucket.Add(file);
        }

        if (encoders.Count > 0 || decoders.Count > 0)
        {
            var encoder = Pick(dir, encoders, "original encoder");
            var decoder = Pick(dir, decoders, "original decoder");
            var parts = (encoder is null ? 0 : TaesdParts.Encoder) | (decoder is null ? 0 : TaesdParts.Decoder);
            return new TaesdFiles(dir, TaesdLayout.Original, parts, null, null, encoder, decoder);
        }
        if (diffusers.Count > 0)
        {
            var file = Pick(dir, diffusers, "diffusers-layout TAESD")!;
            return FromFile(dir, file);
        }

        var pickles = Directory.EnumerateFiles(dir).Where(f => Path.GetExtension(f).ToLowerInvariant() is ".pth" or ".bin" or ".ckpt" or ".pt")
            .Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var detail = pickles.Count > 0
            ? $" It holds only pickle weights ({string.Join(", ", pickles)}), which LcmLora never loads: convert them to .safetensors."
            : others.Count > 0 ? $" Its .safetensors files ({string.Join(", ", others.Select(Path.GetFileName))}) are not TAESD weights." : "";
        throw new LcmLoraInputException($"{dir}: no TAESD weights found; {Expected}.{detail}");
    }

    private static string? Pick(string dir, List<string> candidates, string what)
    {
        if (candidates.Count <= 1) return candidates.FirstOrDefault();
        var xl = candidates.Where(f => Path.GetFileName(f).Contains("taesdxl", StringComparison.OrdinalIgnoreCase)).ToList();
        if (xl.Count == 1) return xl[0];
        throw new LcmLoraInputException(
            $"{dir}: several {what} files ({string.Join(", ", candidates.Select(Path.GetFileName))}); pass the one to use as a file path.");
    }

    private static List<string> ReadKeys(string file)
    {
        using var f = SafeTensorsFile.Open(file);
        return f.Tensors.Select(t => t.Name).ToList();
    }

    private static LcmLoraInputException NotTaesd(string file, IReadOnlyCollection<string> keys)
    {
        var why = TaesdDetector.LooksLikeAutoencoderKl(keys)
            ? "its keys are those of a full VAE or checkpoint (AutoencoderKL: up_blocks/mid_block or first_stage_model.), not of TAESD"
            : $"its {keys.Count} keys ({string.Join(", ", keys.Take(3))}{(keys.Count > 3 ? ", ..." : "")}) are not TAESD layer keys";
        return new LcmLoraInputException($"{file}: not TAESD weights: {why}; {Expected}.");
    }
}
