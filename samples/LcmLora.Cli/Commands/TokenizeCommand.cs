using System.CommandLine;
using LcmLora.Cli.Output;
using LcmLora.Text;

namespace LcmLora.Cli.Commands;

/// <summary><c>lcmlora tokenize --tokenizer DIR [--json] TEXT</c>: CLIP token ids, padded to the folder's max length.</summary>
public static class TokenizeCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var text = new Argument<string>("TEXT") { Description = "The prompt to tokenize." };
        var dir = new Option<string?>("--tokenizer") { Description = "A diffusers tokenizer folder (vocab.json, merges.txt, ...). Default: the built-in SDXL tokenizer." };
        var second = new Option<bool>("--second") { Description = "With no --tokenizer: use the built-in tokenizer_2 (pads with '!')." };
        var json = new Option<bool>("--json") { Description = "Print {\"input_ids\": [...]}." };
        var cmd = new Command("tokenize", "Tokenize a prompt as the SDXL pipeline does (BOS, ids, EOS, padded/truncated to 77).\n\n" +
            "Examples:\n  lcmlora tokenize --tokenizer model/tokenizer_2 --json \"a cat, sitting on a mat!\"\n  lcmlora tokenize \"a lighthouse at dusk\"")
        {
            text, dir, second, json,
        };
        cmd.SetAction(parse =>
        {
            var folder = parse.GetValue(dir);
            var builtIn = folder is null ? SdxlTokenizers.BuiltIn() : default;
            var tokenizer = folder is not null ? ClipTokenizer.FromFolder(folder) : parse.GetValue(second) ? builtIn.Tokenizer2 : builtIn.Tokenizer;
            var prompt = tokenizer.EncodePadded(parse.GetRequiredValue(text));
            if (parse.GetValue(json))
            {
                JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("input_ids");
                    foreach (var id in prompt.Ids) w.WriteNumberValue(id);
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.Out.WriteLine(string.Join(' ', prompt.Ids));
                Console.Out.WriteLine($"{prompt.TokenCount} tokens{(prompt.Truncated ? $" (truncated: {prompt.DroppedTokenIds.Count} dropped)" : "")}");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
