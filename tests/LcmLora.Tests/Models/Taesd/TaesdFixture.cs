namespace LcmLora.Tests.Models.Taesd;

/// <summary>Paths of the TAESD fixture (fixtures/taesd) and a scratch folder for layout tests.</summary>
internal static class TaesdFixture
{
    public static string Data => Fixtures.Path("taesd", "data.safetensors");

    public static string DiffusersFolder => Fixtures.Path("taesd", "diffusers");

    public static string DiffusersWeights => Path.Combine(DiffusersFolder, "diffusion_pytorch_model.safetensors");

    public static string OriginalFolder => Fixtures.Path("taesd", "original");

    public static string EncoderFile => Path.Combine(OriginalFolder, "taesdxl_encoder.safetensors");

    public static string DecoderFile => Path.Combine(OriginalFolder, "taesdxl_decoder.safetensors");

    /// <summary>A fresh empty folder, deleted on dispose.</summary>
    public sealed class TempFolder : IDisposable
    {
        public TempFolder()
        {
            Dir = Path.Combine(Path.GetTempPath(), "lcmlora-taesd-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Dir);
        }

        public string Dir { get; }

        /// <summary>Copies a file into the folder under <paramref name="name"/>; returns the new path.</summary>
        public string Copy(string file, string name)
        {
            var target = Path.Combine(Dir, name);
            File.Copy(file, target);
            return target;
        }

        public void Dispose()
        {
            try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
        }
    }
}
