using LcmLora.IO;
using LcmLora.Models.Clip;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LcmLora.Tests.Models.Clip;

/// <summary>Both tiny SDXL text encoders against transformers (fixtures/text-encoders).</summary>
[Trait("Category", "parity")]
public class ClipTextModelParityTests(ITestOutputHelper log)
{
    private static string Data => Fixtures.Path("text-encoders", "data.safetensors");

    [Fact]
    public void ClipLMatchesTransformers()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var file = SafeTensorsFile.Open(Data);
        using var model = TinyClip.Load("text_encoder");
        using var output = model.Forward(file.Read("input_ids_1"));
        Assert.Equal(6, output.HiddenStates.Count);
        Close(file.Read("te1_hidden_states_m2"), output.HiddenStates[^2], "te1 hidden_states[-2]");
        Close(file.Read("te1_last_hidden_state"), output.LastHiddenState!, "te1 last_hidden_state");
        Close(file.Read("te1_pooler_output"), output.Pooled!, "te1 pooler_output");
        Assert.Null(output.TextEmbeds);
        Assert.Null(output.SelectedHiddenState);
    }

    [Fact]
    public void BigGMatchesTransformers()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var file = SafeTensorsFile.Open(Data);
        using var model = TinyClip.Load("text_encoder_2");
        using var output = model.Forward(file.Read("input_ids_2"));
        Assert.Equal(6, output.HiddenStates.Count);
        Close(file.Read("te2_hidden_states_m2"), output.HiddenStates[^2], "te2 hidden_states[-2]");
        Close(file.Read("te2_last_hidden_state"), output.LastHiddenState!, "te2 last_hidden_state");
        Close(file.Read("te2_text_embeds"), output.TextEmbeds!, "te2 text_embeds");
        Assert.Equal([3L, 40L], output.Pooled!.shape);
    }

    [Theory]
    [InlineData("text_encoder", "input_ids_1")]
    [InlineData("text_encoder_2", "input_ids_2")]
    public void SelectedLayerAndEarlyStopGiveTheSameTensors(string component, string idsName)
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var file = SafeTensorsFile.Open(Data);
        using var model = TinyClip.Load(component);
        var ids = file.Read(idsName);
        using var full = model.Forward(ids);

        using var selected = model.Forward(ids, outputLayer: -2);
        Assert.Empty(selected.HiddenStates);
        TensorAssert.Identical(full.HiddenStates[^2], selected.SelectedHiddenState!, "outputLayer -2");
        TensorAssert.Identical(full.LastHiddenState!, selected.LastHiddenState!, "last hidden state");
        TensorAssert.Identical(full.Pooled!, selected.Pooled!, "pooled");
        Assert.Equal(full.TextEmbeds is null, selected.TextEmbeds is null);

        using var stopped = model.Forward(ids, outputLayer: -2, skipFinalLayers: true);
        TensorAssert.Identical(full.HiddenStates[^2], stopped.SelectedHiddenState!, "outputLayer -2, stopped");
        Assert.Null(stopped.LastHiddenState);
        Assert.Null(stopped.Pooled);
        Assert.Null(stopped.TextEmbeds);

        using var embeddingsOnly = model.Forward(ids, outputLayer: 0, skipFinalLayers: true);
        TensorAssert.Identical(full.HiddenStates[0], embeddingsOnly.SelectedHiddenState!, "outputLayer 0");

        using var lastLayer = model.Forward(ids, outputLayer: 5, skipFinalLayers: true);
        TensorAssert.Identical(full.HiddenStates[^1], lastLayer.SelectedHiddenState!, "outputLayer 5");
        TensorAssert.Identical(full.LastHiddenState!, lastLayer.LastHiddenState!, "no layer skipped: final outputs kept");
        Assert.Equal(full.TextEmbeds is null, lastLayer.TextEmbeds is null);

        using var viaCall = model.call(ids);
        TensorAssert.Identical(full.LastHiddenState!, viaCall.LastHiddenState!, "module call");
    }

    [Fact]
    public void PoolingAtFirstEosWhenEosIsNotTheLegacyValue()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        var config = TinyClip.Config("text_encoder") with { EosTokenId = 7 };
        using var model = new ClipTextModel(config);
        LcmLora.Checkpoints.WeightLoader.LoadDiffusers("text_encoder", model, TinyClip.WeightsFile("text_encoder"));
        // Row 0: eos (7) at 3 and 5, larger ids elsewhere; row 1: no eos at all (transformers then takes position 0).
        var ids = tensor(new long[] { 49406, 320, 1000, 7, 49407, 7, 0, 0, 49406, 49407, 49407, 5, 5, 5, 5, 5 }).view(2, 8);
        using var output = model.Forward(ids);
        TensorAssert.Identical(output.LastHiddenState![0, 3], output.Pooled![0], "row 0 pooled at the first eos");
        TensorAssert.Identical(output.LastHiddenState![1, 0], output.Pooled![1], "row 1 without eos pooled at 0");

        // The legacy rule (eos_token_id 2) takes the first largest id instead: position 4 in row 0, 1 in row 1.
        using var legacy = TinyClip.Load("text_encoder");
        using var legacyOut = legacy.Forward(ids);
        TensorAssert.Identical(legacyOut.LastHiddenState![0, 4], legacyOut.Pooled![0], "legacy row 0");
        TensorAssert.Identical(legacyOut.LastHiddenState![1, 1], legacyOut.Pooled![1], "legacy row 1");
    }

    [Fact]
    public void BadInputsAreRejected()
    {
        using var inference = torch.inference_mode();
        using var scope = NewDisposeScope();
        using var model = new ClipTextModel(TinyClip.Config("text_encoder"));
        var ok = zeros(1, 4, dtype: ScalarType.Int64);
        Assert.Throws<ClipTextInputException>(() => model.Forward(ok, outputLayer: 6));
        Assert.Throws<ClipTextInputException>(() => model.Forward(ok, outputLayer: -7));
        Assert.Throws<ClipTextInputException>(() => model.Forward(zeros(1, 2, 4, dtype: ScalarType.Int64)));
        Assert.Throws<ClipTextInputException>(() => model.Forward(zeros(1, 4)));
        Assert.Throws<ClipTextInputException>(() => model.Forward(zeros(1, 78, dtype: ScalarType.Int64)));
        Assert.Throws<ClipTextInputException>(() => model.Forward(full(1, 4, 49408L, dtype: ScalarType.Int64)));
        Assert.Throws<ClipTextInputException>(() => model.Forward(full(1, 4, -1L, dtype: ScalarType.Int64)));
        using var fine = model.Forward(ok, outputLayer: -6);
        Assert.Equal([1L, 4L, 32L], fine.SelectedHiddenState!.shape);
    }

    private void Close(Tensor expected, Tensor actual, string what)
    {
        using var diff = (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max();
        using var maxRef = expected.abs().max();
        log.WriteLine($"{what}: max |diff| = {diff.item<double>():E3} (max |ref| = {maxRef.item<float>():G4})");
        TensorAssert.Close(expected, actual, 1e-4, what);
    }
}
