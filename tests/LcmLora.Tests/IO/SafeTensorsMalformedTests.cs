using System.Text;
using LcmLora.IO;
using Xunit;

namespace LcmLora.Tests.IO;

[Trait("Category", "unit")]
public class SafeTensorsMalformedTests : TempDirectoryTest
{
    private string WriteFile(string name, byte[] bytes)
    {
        var path = System.IO.Path.Combine(TempDir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Build(string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. new byte[dataBytes]];
    }

    public static TheoryData<string, string, int, string> BadHeaders() => new()
    {
        { "not-json", "{\"a\": ", 0, "not valid JSON" },
        { "array-root", "[1,2]", 0, "must be a JSON object" },
        { "unknown-dtype", "{\"w\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype" },
        { "negative-dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative integer" },
        { "fraction-dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "non-negative integer" },
        { "overflow-shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "overflows" },
        { "overflow-bytes", "{\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}", 4, "overflows" },
        { "unordered", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "not ordered" },
        { "past-end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past the 4-byte data section" },
        { "wrong-size", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "needs 8" },
        { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap" },
        { "duplicate", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "twice" },
        { "metadata-number", "{\"__metadata__\":{\"x\":1}}", 0, "must be a string" },
        { "metadata-array", "{\"__metadata__\":[1]}", 0, "object of strings" },
        { "missing-offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets" },
        { "entry-not-object", "{\"w\":3}", 0, "must be an object" },
        { "gap-between", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "gap of 4 bytes after tensor 'a'" },
        { "gap-at-start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap of 4 bytes after the start" },
        { "trailing-bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 5, "1 bytes follow the last tensor" },
        { "data-without-tensors", "{\"__metadata__\":{\"x\":\"y\"}}", 3, "3 bytes follow" },
        { "duplicate-dtype", "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "field 'dtype' appears twice" },
        { "duplicate-offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"data_offsets\":[4,8]}}", 8, "field 'data_offsets' appears twice" },
        { "not-an-object-start", " {}", 0, "must be a JSON object starting with '{'" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void LyingOrBrokenHeadersAreRejectedWithFileAndProblem(string name, string header, int dataBytes, string expected)
    {
        var path = WriteFile(name + ".safetensors", Build(header, dataBytes));
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AHeaderLengthOneByteShortIsRejectedNotShifted()
    {
        // A valid file whose header is padded with spaces (as writers do): one byte less of header still parses as
        // JSON, and every tensor would start one byte early.
        var json = Encoding.UTF8.GetBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ");
        var data = BitConverter.GetBytes(1.5f).Concat(BitConverter.GetBytes(2.5f)).ToArray();
        var good = WriteFile("good.safetensors", [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. data]);
        using (var file = SafeTensorsFile.Open(good))
        using (var t = file.Read("a"))
            Assert.Equal([1.5f, 2.5f], t.data<float>().ToArray());
        var shifted = WriteFile("shifted.safetensors", [.. BitConverter.GetBytes((ulong)json.Length - 1), .. json, .. data]);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(shifted).Dispose());
        Assert.Contains("1 bytes follow the last tensor", e.Message);
    }

    [Fact]
    public void TheTensorCountIsBounded()
    {
        var entries = Enumerable.Range(0, SafeTensorsHeader.MaxTensors + 1).Select(i => $"\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}");
        var path = WriteFile("many.safetensors", Build("{" + string.Join(",", entries) + "}", 0));
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains($"more than {SafeTensorsHeader.MaxTensors} tensors", e.Message);
    }

    [Fact]
    public void TensorErrorsNameTheTensor()
    {
        var path = WriteFile("named.safetensors", Build("{\"down.weight\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,4]}}", 4));
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Equal("down.weight", e.TensorName);
        Assert.Contains("'down.weight'", e.Message);
    }

    [Fact]
    public void InvalidUtf8IsRejected()
    {
        byte[] json = [(byte)'{', 0xC3, 0x28, (byte)'}'];
        var path = WriteFile("utf8.safetensors", [.. BitConverter.GetBytes((ulong)json.Length), .. json]);
        Assert.Contains("UTF-8", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose()).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void TooShortFilesAreRejected(int length)
    {
        var path = WriteFile($"short{length}.safetensors", new byte[length]);
        Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
    }

    [Fact]
    public void HugeHeaderLengthIsRejectedWithoutAllocating()
    {
        var path = WriteFile("huge.safetensors", [.. BitConverter.GetBytes(ulong.MaxValue - 3), .. "{}"u8.ToArray()]);
        Assert.Contains("limit", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose()).Message);
        var path2 = WriteFile("long.safetensors", [.. BitConverter.GetBytes(90_000_000UL), .. "{}"u8.ToArray()]);
        Assert.Contains("past the end", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path2).Dispose()).Message);
    }

    [Fact]
    public void TruncatedFixtureIsRejected()
    {
        var bytes = File.ReadAllBytes(Fixtures.Path("unet-forward", "data.safetensors"));
        var path = WriteFile("trunc.safetensors", bytes[..(bytes.Length - 10)]);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains("data section", e.Message);
    }

    [Theory]
    [InlineData("model.ckpt")]
    [InlineData("model.pt")]
    [InlineData("model.pth")]
    [InlineData("pytorch_model.bin")]
    public void PickleExtensionsAreRefusedUnread(string name)
    {
        var path = WriteFile(name, [0x80, 0x02, (byte)'c', (byte)'o', (byte)'s']);
        var e = Assert.Throws<UnsupportedCheckpointFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("safetensors", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void PickleAndZipContentIsRefusedWhateverTheName()
    {
        var pickle = WriteFile("renamed.safetensors", [0x80, 0x04, 0x95, 0, 0, 0, 0, 0, 0, 0x8c]);
        Assert.Throws<UnsupportedCheckpointFormatException>(() => SafeTensorsFile.Open(pickle));
        var zip = WriteFile("zip.safetensors", [(byte)'P', (byte)'K', 3, 4, 0, 0, 0, 0, 0, 0]);
        Assert.Throws<UnsupportedCheckpointFormatException>(() => SafeTensorsFile.Open(zip));
    }
}
