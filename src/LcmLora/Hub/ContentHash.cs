using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LcmLora.Hub;

/// <summary>
/// Checks downloaded bytes against the Hub ETag they will be stored under: a 64-hex ETag is the sha256 of an LFS
/// file; a 40-hex ETag is the git blob sha1, <c>sha1("blob {length}\0" + bytes)</c>, of a small file.
/// </summary>
internal sealed class ContentHash : IDisposable
{
    private readonly IncrementalHash _hash;
    private readonly string _expected;
    private readonly byte[] _prefix;

    private ContentHash(IncrementalHash hash, string expected, byte[] prefix)
    {
        _hash = hash;
        _expected = expected;
        _prefix = prefix;
        _hash.AppendData(prefix);
    }

    /// <summary>A hasher for <paramref name="etag"/>, or null when the ETag is not a content hash (then only the size is checked).</summary>
    public static ContentHash? For(string etag, long size)
    {
        if (!etag.All(Uri.IsHexDigit)) return null;
        switch (etag.Length)
        {
            case 64:
                return new ContentHash(IncrementalHash.CreateHash(HashAlgorithmName.SHA256), etag, []);
            case 40:
                return new ContentHash(IncrementalHash.CreateHash(HashAlgorithmName.SHA1), etag,
                    Encoding.ASCII.GetBytes("blob " + size.ToString(CultureInfo.InvariantCulture) + "\0"));
            default:
                return null;
        }
    }

    /// <summary>The name of the algorithm, for messages.</summary>
    public string Name => _expected.Length == 64 ? "sha256" : "git blob sha1";

    /// <summary>Forgets the bytes appended so far.</summary>
    public void Restart()
    {
        _hash.GetHashAndReset();
        _hash.AppendData(_prefix);
    }

    public void Append(ReadOnlySpan<byte> data) => _hash.AppendData(data);

    /// <summary>The hash of everything appended, lower-case hex; true when it is the ETag.</summary>
    public bool Matches(out string actual)
    {
        actual = Convert.ToHexString(_hash.GetHashAndReset()).ToLowerInvariant();
        _hash.AppendData(_prefix);
        return string.Equals(actual, _expected, StringComparison.OrdinalIgnoreCase);
    }

    public void Dispose() => _hash.Dispose();
}
