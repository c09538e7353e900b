using System.Text.Json.Nodes;

namespace LcmLora.Checkpoints.ShapeInference;

/// <summary>
/// Reads a CLIP text-encoder config from the shapes of a single file's encoder, in transformers names (CLIP-L:
/// <c>text_model.*</c>) or open_clip names (bigG: <c>token_embedding</c>, <c>transformer.resblocks.N</c>,
/// <c>text_projection</c> stored transposed): vocabulary size from the token embedding, width, MLP width, layer count,
/// context length and, when there is a text projection, its width. Heads, activation and epsilon are left open.
/// </summary>
internal static class ClipShapeInference
{
    public static JsonObject Infer(KeyShapes k, bool openClip)
    {
        var (token, position, layers, fc1, projection) = openClip
            ? ("token_embedding.weight", "positional_embedding", "transformer.resblocks.", "transformer.resblocks.0.mlp.c_fc.weight", "text_projection")
            : ("text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight", "text_model.encoder.layers.",
               "text_model.encoder.layers.0.mlp.fc1.weight", "text_projection.weight");
        var config = new JsonObject
        {
            ["vocab_size"] = k.Dim(token, 0),
            ["hidden_size"] = k.Dim(token, 1),
            ["intermediate_size"] = k.Dim(fc1, 0),
            ["num_hidden_layers"] = k.Indices(layers).Count,
            ["max_position_embeddings"] = k.Dim(position, 0),
        };
        var hasProjection = k.Has(projection);
        config["architectures"] = new JsonArray(hasProjection ? "CLIPTextModelWithProjection" : "CLIPTextModel");
        // open_clip stores the projection as [hidden, projection]; transformers as [projection, hidden].
        if (hasProjection) config["projection_dim"] = k.Dim(projection, openClip ? 1 : 0);
        return config;
    }
}
