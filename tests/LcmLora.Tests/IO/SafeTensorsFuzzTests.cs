using System.Text;
using LcmLora.IO;
using Xunit;

namespace LcmLora.Tests.IO;

/// <summary>Seeded mutation fuzzing: every mutated file is either read correctly or rejected with the typed exception.</summary>
[Trait("Category", "slow")]
public class SafeTensorsFuzzTests : TempDirectoryTest
{
    [Theory]
    [InlineData("lora/lora_a.safetensors", 1)]
    [InlineData("seed-parity.safetensors", 2)]
    [InlineData("lcm-scheduler/data.safetensors", 3)]
    public void MutatedFilesReadOrThrowTheTypedException(string fixture, int seed)
    {
        var original = File.ReadAllBytes(Fixtures.Path(fixture));
        var headerEnd = 8 + (int)BitConverter.ToUInt64(original, 0);
        var rng = new Random(seed);
        int read = 0, rejected = 0;
        const int iterations = 1500;
        var path = System.IO.Path.Combine(TempDir, "m.safetensors");
        for (var i = 0; i < iterations; i++)
        {
            var bytes = Mutate(original, headerEnd, rng);
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = SafeTensorsFile.Open(path);
                foreach (var t in file.Tensors)
                {
                    using var tensor = file.Read(t.Name);
                    Assert.Equal(t.Shape, tensor.shape);
                    Assert.True(t.DataEnd <= bytes.Length - file.Header.DataStart);
                }
                read++;
            }
            catch (SafeTensorsFormatException e)
            {
                Assert.StartsWith(path, e.Message);
                rejected++;
            }
        }
        Assert.Equal(iterations, read + rejected);
        Assert.True(rejected > iterations / 10, $"only {rejected} rejected");
    }

    private static byte[] Mutate(byte[] original, int headerEnd, Random rng)
    {
        var b = (byte[])original.Clone();
        switch (rng.Next(7))
        {
            case 0: // flip a byte in the header
                b[8 + rng.Next(headerEnd - 8)] ^= (byte)(1 << rng.Next(8));
                return b;
            case 1: // random byte in the header
                b[8 + rng.Next(headerEnd - 8)] = (byte)rng.Next(256);
                return b;
            case 2: // truncate anywhere
                return b[..rng.Next(b.Length)];
            case 3: // lie about the header length
                BitConverter.GetBytes((ulong)(headerEnd - 8 + rng.Next(-16, 17))).CopyTo(b, 0);
                return b;
            case 4: // change a digit in the header (shapes, offsets)
            {
                var digits = Enumerable.Range(8, headerEnd - 8).Where(i => char.IsAsciiDigit((char)b[i])).ToArray();
                if (digits.Length > 0) b[digits[rng.Next(digits.Length)]] = (byte)('0' + rng.Next(10));
                return b;
            }
            case 5: // replace a dtype
            {
                var text = Encoding.UTF8.GetString(b, 8, headerEnd - 8);
                string[] dtypes = ["F32", "F16", "I64", "BF16", "U8", "F64", "XX"];
                var swapped = text.Replace("\"F32\"", "\"" + dtypes[rng.Next(dtypes.Length)] + "\"");
                var json = Encoding.UTF8.GetBytes(swapped);
                return json.Length == headerEnd - 8 ? [.. b[..8], .. json, .. b[headerEnd..]] : b;
            }
            default: // corrupt data bytes: must still read
                if (b.Length > headerEnd) b[headerEnd + rng.Next(b.Length - headerEnd)] ^= 0xFF;
                return b;
        }
    }
}
