using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using PuppeteerSharp;
using Xunit;
using Xunit.Abstractions;

namespace LcmLora.Tests.Server;

/// <summary>
/// The page in a real headless Chromium (the Debian <c>chromium</c> package, driven by PuppeteerSharp through its
/// executable path: no browser download), against the server on Kestrel with the tiny model and TAESD previews.
/// Reported as skipped, with the reason, when no Chromium is installed; a Chromium that fails to start fails the test.
/// </summary>
[Trait("Category", "slow")]
public sealed class ServerBrowserTests(ITestOutputHelper output)
{
    /// <summary>The screenshot this test leaves (tests/LcmLora.Tests/TestResults/, kept by CI as an artifact).</summary>
    public static string ScreenshotPath => Path.Combine(Fixtures.RepoRoot, "tests", "LcmLora.Tests", "TestResults", "server-page.png");

    [SkippableFact]
    public async Task PageGeneratesAnImageWithLivePreviews()
    {
        var (chromium, reason) = FindChromium();
        Skip.If(chromium is null, reason);

        using var factory = new ServerFactory();
        factory.UseKestrel(0);
        factory.StartServer();
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        output.WriteLine($"server at {address}, browser {chromium}");

        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // Containers run as root without user namespaces: Chromium's sandbox cannot start there.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        await using var page = await browser.NewPageAsync();
        page.DefaultTimeout = 180_000;
        var consoleErrors = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) consoleErrors.Add(e.Message.Text); };
        await page.SetViewportAsync(new ViewPortOptions { Width = 1100, Height = 900 });
        await page.GoToAsync(address);
        await page.WaitForFunctionAsync("() => document.getElementById('model').textContent.includes('previews on')");

        // Record, in order, every image the page shows: previews (data URLs) and the result (an /v1/images URL).
        await page.EvaluateExpressionAsync("""
            window.shown = [];
            new MutationObserver(ms => ms.forEach(m => window.shown.push(m.target.id + ' ' + (m.target.getAttribute('src') || '').slice(0, 22))))
              .observe(document.querySelector('.frames'), { attributes: true, attributeFilter: ['src'], subtree: true });
            """);
        await page.TypeAsync("#prompt", "a lighthouse on a cliff at sunset");
        await page.ClickAsync("#generate");
        await page.WaitForFunctionAsync("""
            () => { const r = document.getElementById('result');
                    return (r.getAttribute('src') || '').startsWith('/v1/images/') && r.complete && r.naturalWidth > 0; }
            """);
        await page.WaitForSelectorAsync("#gallery button");

        var shown = await page.EvaluateExpressionAsync<string[]>("window.shown");
        output.WriteLine(string.Join("\n", shown));
        var firstPreview = Array.FindIndex(shown, s => s == "preview data:image/png;base64,");
        var result = Array.FindIndex(shown, s => s.StartsWith("result /v1/images/", StringComparison.Ordinal));
        Assert.True(firstPreview >= 0, "no preview was shown");
        Assert.True(result > firstPreview, "the result came before any preview");
        Assert.Equal(4, shown.Count(s => s.StartsWith("preview data:", StringComparison.Ordinal)));
        var progress = await page.EvaluateExpressionAsync<string>("document.getElementById('progress-text').textContent");
        Assert.StartsWith("done in", progress);
        Assert.Empty(consoleErrors);

        Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
        await page.ScreenshotAsync(ScreenshotPath, new ScreenshotOptions { FullPage = true });
        output.WriteLine($"screenshot: {ScreenshotPath}");
        Assert.True(new FileInfo(ScreenshotPath).Length > 0);
    }

    /// <summary>LCMLORA_CHROMIUM when set (and then only it), else the usual Linux install paths.</summary>
    private static (string? Path, string Reason) FindChromium()
    {
        if (Environment.GetEnvironmentVariable("LCMLORA_CHROMIUM") is { Length: > 0 } chosen)
            return File.Exists(chosen) ? (chosen, "") : (null, $"LCMLORA_CHROMIUM={chosen}: no such file.");
        string[] candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
        return (candidates.FirstOrDefault(File.Exists),
            $"No Chromium at {string.Join(", ", candidates)}: install it (Debian: apt-get install chromium; .ci/run does) or set LCMLORA_CHROMIUM to its path.");
    }
}
