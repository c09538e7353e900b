using System.CommandLine;
using System.Globalization;
using LcmLora.Checkpoints;
using LcmLora.Imaging;
using LcmLora.Pipelines;

namespace LcmLora.Cli.Commands;

/// <summary>
/// The <c>generate</c> options for inpainting (<c>--mask-image</c>, <c>--mask-blur</c>, <c>--keep-unmasked</c>; the init
/// image and strength are the image-to-image ones) and ControlNet (<c>--controlnet PATH[:SCALE]</c>, repeatable,
/// <c>--control-image</c>, <c>--control-preprocess</c>, <c>--control-start</c>/<c>--control-end</c>).
/// </summary>
public sealed class ImageGuidanceOptions
{
    /// <summary>--mask-image.</summary>
    public Option<string?> MaskImage { get; } = new("--mask-image") { Description = "Inpainting: white repaints, black keeps (needs --init-image). Works with 4-channel and 9-channel (inpainting) UNets." };

    /// <summary>--mask-blur.</summary>
    public Option<double> MaskBlur { get; } = new("--mask-blur") { Description = "Gaussian blur of the mask in pixels (sigma) before it is used; softens the --keep-unmasked seam.", DefaultValueFactory = _ => 0.0 };

    /// <summary>--keep-unmasked.</summary>
    public Option<bool> KeepUnmasked { get; } = new("--keep-unmasked") { Description = "Inpainting: paste the init image back outside the mask (otherwise the whole picture is the VAE's decode)." };

    /// <summary>--controlnet.</summary>
    public Option<string[]> ControlNet { get; } = new("--controlnet") { Description = "ControlNet PATH[:SCALE] (a diffusers folder or .safetensors file; scale default 1.0), repeatable: the residuals are summed.", AllowMultipleArgumentsPerToken = false };

    /// <summary>--control-image.</summary>
    public Option<string[]> ControlImage { get; } = new("--control-image") { Description = "Control image for --controlnet: one for all, or one per --controlnet in the same order.", AllowMultipleArgumentsPerToken = false };

    /// <summary>--control-preprocess.</summary>
    public Option<string> Preprocess { get; } = new("--control-preprocess") { Description = "none (use the image as given), canny (edges), grey, or grey-invert (black-on-white lineart).", DefaultValueFactory = _ => "none" };

    /// <summary>--control-start.</summary>
    public Option<double> Start { get; } = new("--control-start") { Description = "Fraction of the steps after which the ControlNets start acting.", DefaultValueFactory = _ => 0.0 };

    /// <summary>--control-end.</summary>
    public Option<double> End { get; } = new("--control-end") { Description = "Fraction of the steps after which the ControlNets stop.", DefaultValueFactory = _ => 1.0 };

    /// <summary>Registers the options.</summary>
    public void AddTo(Command command)
    {
        Preprocess.AcceptOnlyFromAmong("none", "canny", "grey", "grey-invert");
        foreach (Option o in new Option[] { MaskImage, MaskBlur, KeepUnmasked, ControlNet, ControlImage, Preprocess, Start, End }) command.Add(o);
    }

    /// <summary>Adds the inpainting settings to <paramref name="request"/> (reads the mask image); no weights needed.</summary>
    public GenerationRequest AddInpainting(ParseResult parse, GenerationRequest request)
    {
        request = request with
        {
            MaskImage = parse.GetValue(MaskImage) is { } mask ? PngCodec.Load(mask) : null,
            MaskBlur = parse.GetValue(MaskBlur),
            KeepUnmasked = parse.GetValue(KeepUnmasked),
        };
        if (request.MaskImage is null && (request.KeepUnmasked || request.MaskBlur != 0))
            throw new LcmLoraInputException("--keep-unmasked and --mask-blur need --mask-image.");
        if (request.MaskImage is not null && request.InitImage is null)
            throw new LcmLoraInputException("--mask-image needs --init-image (the picture to inpaint).");
        return request;
    }

    /// <summary>Checks the ControlNet options against each other before anything loads.</summary>
    public void CheckControlNets(ParseResult parse)
    {
        var nets = parse.GetValue(ControlNet) ?? [];
        var images = parse.GetValue(ControlImage) ?? [];
        if (nets.Length == 0 && images.Length > 0) throw new LcmLoraInputException("--control-image needs --controlnet.");
        if (nets.Length > 0 && images.Length != 1 && images.Length != nets.Length)
            throw new LcmLoraInputException($"--controlnet needs --control-image: one for all, or one per ControlNet ({nets.Length}); got {images.Length}.");
        foreach (var image in images)
            if (!File.Exists(image)) throw new LcmLoraInputException($"--control-image {image}: file not found.");
        foreach (var net in nets)
            if (ParseSpec(net).Path is var path && !File.Exists(path) && !Directory.Exists(path))
                throw new LcmLoraInputException($"--controlnet {path}: file or folder not found.");
    }

    /// <summary>Loads the ControlNets on the pipeline's device and dtype and adds them, with their (preprocessed) control images, to <paramref name="request"/>.</summary>
    public GenerationRequest AddControlNets(ParseResult parse, SdxlPipeline pipeline, GenerationRequest request)
    {
        var nets = parse.GetValue(ControlNet) ?? [];
        if (nets.Length == 0) return request;
        var images = parse.GetValue(ControlImage) ?? [];
        var preprocess = parse.GetValue(Preprocess)!;
        var units = new List<ControlNetGuidance>();
        for (var i = 0; i < nets.Length; i++)
        {
            var (path, scale) = ParseSpec(nets[i]);
            var image = PngCodec.Load(images[images.Length == 1 ? 0 : i]);
            image = preprocess switch
            {
                "canny" => ControlImages.Canny(image),
                "grey" => ControlImages.Grey(image),
                "grey-invert" => ControlImages.Grey(image, invert: true),
                _ => image,
            };
            var model = ComponentCheckpoint.LoadControlNet(path, pipeline.Device, pipeline.DType);
            units.Add(new ControlNetGuidance(model, image) { Scale = scale, GuidanceStart = parse.GetValue(Start), GuidanceEnd = parse.GetValue(End) });
        }
        return request with { ControlNets = units };
    }

    /// <summary>Splits <c>PATH[:SCALE]</c>; the scale is the part after the last ':' when it is a number.</summary>
    public static (string Path, double Scale) ParseSpec(string value)
    {
        var spec = LoraOptions.Parse(value, "--controlnet");
        return (spec.Path, spec.Weight);
    }
}
