using System.Text;
using LcmLora.Cli;
using LcmLora.IO;
using LcmLora.Lora;
using TorchSharp;
using Xunit;

namespace LcmLora.Tests.Cli;

/// <summary>
/// Hostile or unlucky input that used to end in "internal error" (exit 1) or a crash: each is bad input or the
/// environment, so a typed exception from the library, exit 2 and a readable one-line message from the CLI.
/// </summary>
[Trait("Category", "cli")]
public class BadInputExitCodeTests : TempDirectoryTest
{
    private static string Sgm => Fixtures.Path("tiny-sdxl", "sgm", "tiny_sdxl_sgm.safetensors");

    [Fact]
    public void ARankZeroLoraIsBadInputNamingTheRank()
    {
        // lora_a with every factor cut to rank 0: down [0, in], up [out, 0].
        var path = TempPath("rank0.safetensors");
        using (var source = SafeTensorsFile.Open(Fixtures.Path("lora", "lora_a.safetensors")))
        using (var scope = torch.NewDisposeScope())
        {
            var tensors = new Dictionary<string, torch.Tensor>();
            foreach (var t in source.Tensors)
            {
                long[] shape = t.Name.EndsWith(".lora_down.weight", StringComparison.Ordinal) ? [0, .. t.Shape[1..]]
                    : t.Name.EndsWith(".lora_up.weight", StringComparison.Ordinal) ? [t.Shape[0], 0, .. t.Shape[2..]]
                    : t.Shape;
                tensors[t.Name] = t.Name.EndsWith(".alpha", StringComparison.Ordinal) ? source.Read(t.Name) : torch.zeros(shape);
            }
            SafeTensorsWriter.Save(path, tensors);
        }
        using (var lora = LoraFile.Open(path))
            Assert.All(lora.Modules, m => Assert.Contains("rank 0", m.Problem));
        var r = CliRunner.Run("fuse", "--model", Sgm, "--lora", path, "--out", TempPath("out.safetensors"), "--config", Fixtures.TinyConfigDir);
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}: {r.Err}");
        Assert.DoesNotContain("internal error", r.Err);
        Assert.Contains("rank0.safetensors", r.Err);
    }

    [Fact]
    public void ANestedQuantifierAlphaPatternCostsLinearTimeAndNeverTimesOut()
    {
        var module = "down_blocks.0.attentions.0." + new string('a', 40);
        (string, long[])[] keys = [($"unet.{module}.lora_A.weight", [2, 5]), ($"unet.{module}.lora_B.weight", [6, 2])];
        // (a+)+b against "aaa...a" backtracks 2^40 times; the old 1 s timeout threw RegexMatchTimeoutException.
        var lora = LoraFile.FromHeader("evil", keys, new Dictionary<string, string>
        {
            ["lora_adapter_metadata"] = """{"lora_alpha": 8, "alpha_pattern": {"(a+)+b": 2, "(a|aa)+": 4}}""",
        });
        Assert.Equal(4.0, lora.Modules.Single().Alpha); // the second pattern matches; the first does not
        var tooLong = new Dictionary<string, string>
        {
            ["lora_adapter_metadata"] = $$$"""{"lora_alpha": 8, "alpha_pattern": {"{{{new string('x', PeftAdapterMetadata.MaxPatternLength + 1)}}}": 2}}""",
        };
        var e = Assert.Throws<LoraFormatException>(() => LoraFile.FromHeader("long", keys, tooLong));
        Assert.Contains("long: ", e.Message);
    }

    [Fact]
    public void ControlCharactersInNamesAndMetadataArePrintedEscaped()
    {
        var path = TempPath("esc.safetensors");
        SafeTensorsWriter.Save(path, new Dictionary<string, torch.Tensor> { ["w\u001b[2J\u001b]0;pwned\u0007"] = torch.zeros(2) },
            new Dictionary<string, string> { ["note\r"] = "line\u001b[31mred\u202Eevil" });
        var r = CliRunner.Run("inspect", path, "--tensors");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.DoesNotContain('\u001b', r.Out);
        Assert.DoesNotContain('\u0007', r.Out);
        Assert.DoesNotContain('\u202E', r.Out);
        Assert.Contains("\\x1B[2J", r.Out);
        Assert.Contains("\\u202E", r.Out);

        var missing = CliRunner.Run("inspect", TempPath("no\u001b[31mfile.safetensors"));
        Assert.Equal(2, missing.ExitCode);
        Assert.DoesNotContain('\u001b', missing.Err);
    }

    [Fact]
    public void LinkLoopsFoldersAndAFullDiskAreBadInputOrEnvironment()
    {
        File.CreateSymbolicLink(TempPath("a.safetensors"), "b.safetensors");
        File.CreateSymbolicLink(TempPath("b.safetensors"), "a.safetensors");
        var loop = CliRunner.Run("fuse", "--model", Sgm, "--lora", TempPath("a.safetensors"), "--out", TempPath("o.safetensors"), "--config", Fixtures.TinyConfigDir);
        Assert.True(loop.ExitCode == 2, loop.Err);
        Assert.Contains("a.safetensors", loop.Err);

        Directory.CreateDirectory(TempPath("dir.safetensors"));
        var folder = CliRunner.Run("inspect", TempPath("dir.safetensors"), "--model", Sgm, "--config", Fixtures.TinyConfigDir);
        Assert.NotEqual(1, folder.ExitCode);

        if (!File.Exists("/dev/full")) return;
        // A real ENOSPC, as a full disk gives it: .NET reports it as an IOException.
        var full = Assert.ThrowsAny<IOException>(() =>
        {
            using var stream = new FileStream("/dev/full", FileMode.Open, FileAccess.Write);
            stream.Write(new byte[4096]);
            stream.Flush();
        });
        Assert.True(CliErrors.IsBadInput(full), full.Message);
    }

    [Fact]
    public void ATensorOf2GiBOrMoreIsRefusedClearlyAndReadsInRowBlocks()
    {
        // A sparse file: 2^29 float32 rows of 1 = 2 GiB of data that takes no disk space.
        const long rows = 1L << 29;
        var json = Encoding.UTF8.GetBytes($$$"""{"big":{"dtype":"F32","shape":[{{{rows}}},1],"data_offsets":[0,{{{rows * 4}}}]}}""");
        var path = TempPath("big.safetensors");
        using (var stream = new FileStream(path, FileMode.CreateNew))
        {
            stream.Write(BitConverter.GetBytes((ulong)json.Length));
            stream.Write(json);
            stream.SetLength(8 + json.Length + rows * 4);
        }
        using var file = SafeTensorsFile.Open(path);
        var e = Assert.Throws<SafeTensorsFormatException>(() => file.Read("big").Dispose());
        Assert.Contains("'big'", e.Message);
        Assert.Contains("2 GiB", e.Message);
        using var tail = file.ReadRows("big", rows - 4, 4);
        Assert.Equal(new long[] { 4, 1 }, tail.shape);
        Assert.Equal(0f, tail.sum().item<float>());
    }
}
