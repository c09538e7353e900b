using System.Buffers.Binary;
using System.Text;

namespace LcmLora.Runtime;

/// <summary>
/// Reads and edits the <c>.gnu.version_r</c> (version needs) section of a 64-bit little-endian ELF shared
/// library. Used to mark one required symbol version (<c>GLIBCXX_3.4.32</c>) as weak
/// (<c>VER_FLG_WEAK</c>), so the dynamic loader accepts a host libstdc++ that lacks it.
/// Written by hand because no served .NET package edits ELF version records; the format is small and fixed
/// (System V gABI, "Symbol Versioning").
/// </summary>
internal static class ElfVersionNeeds
{
    /// <summary>The flag that tells the loader a missing version is acceptable.</summary>
    public const ushort VerFlagWeak = 0x2;

    private const uint ShtGnuVerneed = 0x6ffffffe;

    /// <summary>One required version: the library that provides it, its name and its flags.</summary>
    /// <param name="File">The needed library (for example <c>libstdc++.so.6</c>).</param>
    /// <param name="Name">The version name (for example <c>GLIBCXX_3.4.32</c>).</param>
    /// <param name="Flags">The <c>vna_flags</c> field.</param>
    public sealed record VersionNeed(string File, string Name, ushort Flags);

    /// <summary>Lists every version that the library requires.</summary>
    /// <param name="path">Path of the ELF file.</param>
    public static IReadOnlyList<VersionNeed> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = new List<VersionNeed>();
        Walk(path, bytes, (file, name, flagsOffset) =>
            result.Add(new VersionNeed(file, name, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(flagsOffset)))));
        return result;
    }

    /// <summary>
    /// Sets <see cref="VerFlagWeak"/> on the version need named <paramref name="version"/>. Idempotent.
    /// </summary>
    /// <param name="path">Path of the ELF file, edited in place.</param>
    /// <param name="version">The version name to mark weak.</param>
    /// <returns><c>true</c> if the file was changed; <c>false</c> if the flag was already set or the
    /// library does not require that version.</returns>
    public static bool MarkWeak(string path, string version)
    {
        var bytes = File.ReadAllBytes(path);
        var offsets = new List<int>();
        Walk(path, bytes, (_, name, flagsOffset) =>
        {
            if (name == version) offsets.Add(flagsOffset);
        });
        var changed = false;
        foreach (var offset in offsets)
        {
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset));
            if ((flags & VerFlagWeak) != 0) continue;
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(offset), (ushort)(flags | VerFlagWeak));
            changed = true;
        }
        if (changed) Replace(path, bytes);
        return changed;
    }

    /// <summary>
    /// Writes the patched copy as a new file beside <paramref name="path"/> and renames it over the old name, never
    /// writing through it: the app's copy is often a hard link into the NuGet package cache (CreateHardLinksForCopy-
    /// LocalIfPossible), whose file must stay as published. The rename also keeps a process that has the old file
    /// mapped safe. Permissions are carried over.
    /// </summary>
    private static void Replace(string path, byte[] bytes)
    {
        var temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.patch");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static void Walk(string path, byte[] b, Action<string, string, int> visit)
    {
        InvalidDataException Bad(string what) => new($"{path}: not a usable 64-bit little-endian ELF file ({what}).");
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F') throw Bad("no ELF magic");
        if (b[4] != 2 || b[5] != 1) throw Bad("not ELFCLASS64/little-endian");
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(0x3A));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(0x3C));
        if (shentsize < 64 || shoff + (ulong)shentsize * (ulong)shnum > (ulong)b.Length) throw Bad("section table out of range");

        (uint type, ulong offset, ulong size, uint link, uint info) Section(int i)
        {
            var s = b.AsSpan((int)(shoff + (ulong)(i * shentsize)));
            return (BinaryPrimitives.ReadUInt32LittleEndian(s[4..]), BinaryPrimitives.ReadUInt64LittleEndian(s[24..]),
                BinaryPrimitives.ReadUInt64LittleEndian(s[32..]), BinaryPrimitives.ReadUInt32LittleEndian(s[40..]),
                BinaryPrimitives.ReadUInt32LittleEndian(s[44..]));
        }

        for (var i = 0; i < shnum; i++)
        {
            var sec = Section(i);
            if (sec.type != ShtGnuVerneed) continue;
            if (sec.link >= shnum) throw Bad("version section links to a missing string table");
            var strtab = Section((int)sec.link);
            string Str(uint off)
            {
                if (off >= strtab.size) throw Bad("string offset out of range");
                var start = (int)(strtab.offset + off);
                var end = Array.IndexOf(b, (byte)0, start);
                if (end < 0) throw Bad("unterminated string");
                return Encoding.ASCII.GetString(b, start, end - start);
            }
            var need = (long)sec.offset;
            for (uint n = 0; n < sec.info; n++)
            {
                if (need + 16 > b.Length) throw Bad("version need out of range");
                var cnt = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan((int)(need + 2)));
                var file = Str(BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)(need + 4))));
                var aux = need + BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)(need + 8)));
                for (var a = 0; a < cnt; a++)
                {
                    if (aux + 16 > b.Length) throw Bad("version aux out of range");
                    var name = Str(BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)(aux + 8))));
                    visit(file, name, (int)(aux + 4));
                    aux += BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)(aux + 12)));
                }
                var next = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)(need + 12)));
                if (next == 0) break;
                need += next;
            }
        }
    }
}
