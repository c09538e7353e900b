using System.Diagnostics;
using LcmLora.Imaging;
using LcmLora.Schedulers;
using TorchSharp;

namespace LcmLora.Pipelines;

/// <summary>
/// One generation, in diffusers' order: validate, encode the prompt (once, repeated for the batch), micro-conditioning
/// and the step-independent part of the time embedding, timesteps, initial latents (random noise drawn from the
/// generator first, or the caller's latents, or a noised init image), the denoising loop (one UNet call per step,
/// classifier-free guidance only when the scale is above 1), then the decode. Runs inside the pipeline's dispose scope
/// and inference mode; only what the result returns leaves it.
/// </summary>
internal sealed class GenerationRun
{
    private readonly SdxlPipeline _p;
    private readonly GenerationRequest _r;
    private readonly IProgress<GenerationProgress>? _progress;
    private readonly CancellationToken _ct;
    private readonly List<string> _warnings = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private ControlGuidanceRun? _control;
    private InpaintingRun? _inpaint;

    public GenerationRun(SdxlPipeline pipeline, GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken ct)
    {
        _p = pipeline;
        _r = request;
        _progress = progress;
        _ct = ct;
    }

    private torch.Device Device => _p.Models.Device;

    private torch.ScalarType DType => _p.Models.DType;

    /// <summary>Classifier-free guidance: a scale above 1 on a UNet without a guidance embedding.</summary>
    private bool Guided => _r.GuidanceScale > 1.0 && _p.Models.Configs.Unet.TimeCondProjDim is null;

    public GenerationResult Execute()
    {
        var (width, height) = Validate();
        ulong? seed = _r.Generator is null ? _r.Seed ?? SdxlPipeline.RandomSeed() : null;
        using var ownGenerator = seed is { } s ? new torch.Generator(s) : null;
        var generator = _r.Generator ?? ownGenerator!;

        var (embeds, conditioning) = Conditioning(width, height);
        var encoded = _clock.Elapsed;
        using var timestepCond = GuidanceEmbedding();
        var scheduler = _r.Scheduler ?? _p.Scheduler;
        var strength = _r.InitImage is null ? 1.0 : _r.Strength;
        var run = _r.Timesteps is { } custom
            ? scheduler is LcmScheduler lcm ? lcm.SetCustomTimesteps(custom, strength)
                : throw new LcmLoraInputException($"Custom timesteps need the LCM scheduler; the {scheduler.Name} scheduler takes a step count.")
            : _r.MaskImage is null ? scheduler.SetTimesteps(_r.Steps, strength) : InpaintingRun.Plan(scheduler, _r.Steps, strength);
        torch.Tensor latents;
        if (_r.MaskImage is null) latents = InitialLatents(run, width, height, generator);
        else (_inpaint, latents) = InpaintingRun.Start(_p, _r, run, width, height, generator, Guided);
        _ct.ThrowIfCancellationRequested();

        for (var i = 0; i < run.Timesteps.Count; i++)
        {
            _ct.ThrowIfCancellationRequested();
            var next = Step(run, i, latents, embeds, conditioning, timestepCond, generator);
            latents.Dispose();
            latents = next;
        }

        // The loop's freed activations would otherwise stay in the C heap through the decode, the peak of a generation.
        Runtime.NativeHeap.Trim();
        var denoised = _clock.Elapsed;
        _ct.ThrowIfCancellationRequested();
        var decoded = _p.Decoder.Decode(latents, _r.Tiling);
        if (!decoded.isfinite().all().item<bool>())
            throw new NonFiniteOutputException($"The decoded image holds NaN or infinite values ({_p.Decoder.Name}, dtype {DType}). " +
                "Half-precision VAEs overflow: keep the VAE in float32 (force_upcast) or use an fp16-fixed VAE; a broken LoRA can also cause this.");
        var unit = ImageTensors.ToUnitRange(decoded);
        if (_r.KeepUnmasked && _inpaint is not null) unit = _inpaint.PasteBack(unit);
        var images = ImageTensors.ToImages(unit);
        torch.Tensor? imageTensor = null, finalLatents = null;
        if (_r.ReturnTensors)
        {
            imageTensor = unit.cpu().DetachFromDisposeScope();
            finalLatents = latents.to(torch.ScalarType.Float32).cpu().DetachFromDisposeScope();
        }
        var elapsed = _clock.Elapsed;
        if (_p.Precision.Warning is { } slow) _warnings.Add(slow);
        return new GenerationResult(images, seed, run.Timesteps, _warnings, imageTensor, finalLatents, elapsed, DType,
            new GenerationTimings(encoded, denoised - encoded, elapsed - denoised));
    }

    private (int Width, int Height) Validate()
    {
        var width = _r.Width ?? _p.NativeSize;
        var height = _r.Height ?? _p.NativeSize;
        _r.Validate(_p.SizeMultiple);
        var multiple = _p.SizeMultiple;
        if (width % multiple != 0 || height % multiple != 0)
            throw new LcmLoraInputException($"Width and height must be positive multiples of {multiple} for this model; got {width}x{height}.");
        foreach (var unit in _r.ControlNets) unit.Model.Config.CheckFits(_p.Models.Unet.Config);
        if (_r.MaskImage is null && _p.Models.Unet.Config.InChannels != _p.Models.Unet.Config.OutChannels)
            throw new LcmLoraInputException($"This UNet takes {_p.Models.Unet.Config.InChannels} input channels (an inpainting UNet): give an init image and a mask image.");
        if (_r.Latents is { } l)
        {
            long[] expected = [_r.BatchSize, _p.Models.Unet.Config.OutChannels, height / _p.Decoder.ScaleFactor, width / _p.Decoder.ScaleFactor];
            if (!l.shape.SequenceEqual(expected))
                throw new LcmLoraInputException($"Initial latents must have shape [{string.Join(", ", expected)}] for {width}x{height}, batch {_r.BatchSize}; got [{string.Join(", ", l.shape)}].");
        }
        return (width, height);
    }

    private (torch.Tensor Embeds, torch.Tensor? Conditioning) Conditioning(int width, int height)
    {
        var encoder = _p.PromptEncoder;
        using var positive = encoder.Encode([_r.Prompt], _r.ClipSkip, _r.ChunkLongPrompts, Device, _warnings);
        var batch = _r.BatchSize;
        var embeds = positive.Embeds.repeat(batch, 1, 1);
        var pooled = positive.Pooled?.repeat(batch, 1);
        if (Guided)
        {
            PromptEmbeddings negative = _r.NegativePrompt is null && _p.ForceZerosForEmptyPrompt && encoder.ZerosForMissingNegative
                ? new PromptEmbeddings(torch.zeros_like(positive.Embeds), positive.Pooled is null ? null : torch.zeros_like(positive.Pooled))
                : encoder.Encode([_r.NegativePrompt ?? ""], null, _r.ChunkLongPrompts, Device, _warnings);
            using (negative)
            {
                if (negative.Embeds.shape[1] != positive.Embeds.shape[1])
                    throw new LcmLoraInputException("With chunked prompts, the prompt and the negative prompt must have the same number of 75-token chunks.");
                embeds = torch.cat([negative.Embeds.repeat(batch, 1, 1), embeds]);
                if (pooled is not null) pooled = torch.cat([negative.Pooled!.repeat(batch, 1), pooled]);
            }
        }
        var rows = embeds.shape[0];
        if (!_p.Models.Configs.Unet.HasAddedConditioning)
        {
            if (_r.ControlNets.Count > 0) _control = new ControlGuidanceRun(_r.ControlNets, width, height, rows, null, null, Device, DType);
            return (embeds.to(DType), null);
        }
        if (pooled is null) throw new LcmLoraInputException("This UNet needs a pooled text embedding (SDXL family), but the text encoders give none.");
        // SDXL micro-conditioning: original size, crop top-left, target size (height first); the same for the negative rows.
        var timeIds = torch.tensor(new float[] { height, width, 0, 0, height, width }, device: Device).repeat(rows, 1);
        var conditioning = _p.Models.Unet.ConditioningEmbedding(pooled.to(DType), timeIds.to(DType));
        if (_r.ControlNets.Count > 0) _control = new ControlGuidanceRun(_r.ControlNets, width, height, rows, pooled, timeIds, Device, DType);
        return (embeds.to(DType), conditioning);
    }

    /// <summary>A full LCM UNet's guidance input: <c>get_guidance_scale_embedding(guidance_scale - 1)</c>, one row for the batch.</summary>
    private torch.Tensor? GuidanceEmbedding() => _p.Models.Configs.Unet.TimeCondProjDim is { } dim
        ? Models.Unet.SdxlUNet.GuidanceEmbedding([_r.GuidanceScale - 1], dim, Device).to(DType)
        : null;

    private torch.Tensor InitialLatents(ISchedulerRun run, int width, int height, torch.Generator generator)
    {
        var f = _p.Decoder.ScaleFactor;
        long[] shape = [_r.BatchSize, _p.Models.Unet.Config.OutChannels, height / f, width / f];
        if (_r.InitImage is { } image)
        {
            if (!_p.Decoder.CanEncode) throw new LcmLoraInputException($"Image-to-image needs an encoder; the decoder {_p.Decoder.Name} has none.");
            var resized = PngCodec.Resize(image, width, height);
            var pixels = ImageTensors.FromImages([resized]).to(Device);
            var init = _p.Decoder.Encode(pixels, generator).to(torch.ScalarType.Float32).repeat(_r.BatchSize, 1, 1, 1);
            var noise = torch.randn(shape, generator: generator).to(Device);
            return run.AddNoise(init, noise, run.Timesteps[0]);
        }
        var latents = _r.Latents is { } given
            ? given.to(torch.ScalarType.Float32).to(Device)
            : torch.randn(shape, generator: generator).to(Device);
        return latents * run.InitNoiseSigma;
    }

    private torch.Tensor Step(ISchedulerRun run, int index, torch.Tensor latents, torch.Tensor embeds, torch.Tensor? conditioning, torch.Tensor? timestepCond, torch.Generator generator)
    {
        var t = run.Timesteps[index];
        using var scope = torch.NewDisposeScope();
        var input = Guided ? torch.cat([latents, latents]) : latents;
        input = run.ScaleModelInput(input, t).to(DType);
        using var timestep = torch.tensor(new[] { t }, device: Device);
        var control = _control?.Residuals(index, run.Timesteps.Count, input, timestep, embeds);
        if (_inpaint is not null) input = _inpaint.UNetInput(input, Guided);
        var eps = _p.Models.Unet.Denoise(input, timestep, embeds, conditioning, timestepCond, _ct, control?.Down, control?.Mid).to(torch.ScalarType.Float32);
        if (Guided)
        {
            var halves = eps.chunk(2);
            eps = halves[0] + _r.GuidanceScale * (halves[1] - halves[0]);
        }
        var result = run.Step(eps, t, latents, generator);
        var next = (_inpaint is null ? result.PrevSample : _inpaint.Blend(result.PrevSample, index, run)).MoveToOuterDisposeScope();
        if (_progress is not null)
        {
            RgbImage? preview = null;
            if (_p.PreviewDecoder is { } previewer)
            {
                var decoded = previewer.Decode(result.Denoised.narrow(0, 0, 1));
                preview = ImageTensors.ToImages(ImageTensors.ToUnitRange(decoded))[0];
            }
            _progress.Report(new GenerationProgress(index + 1, run.Timesteps.Count, t, _clock.Elapsed, preview));
        }
        return next;
    }
}
