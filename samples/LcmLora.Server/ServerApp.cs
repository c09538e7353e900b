using System.Text.Json.Serialization;
using LcmLora.Server.Api;
using LcmLora.Server.Generation;
using LcmLora.Server.Jobs;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LcmLora.Server;

/// <summary>Builds the web application: services, the API, OpenAPI at /openapi/v1.json and the page in wwwroot/.</summary>
public static class ServerApp
{
    /// <summary>Creates the application from command-line arguments (see <see cref="ServerOptions"/>).</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(ServerOptions.MapArguments(args));
        builder.Services.Configure<ServerOptions>(builder.Configuration.GetSection(ServerOptions.Section));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PipelineHost>();
        builder.Services.AddSingleton<IImageGenerator>(sp => sp.GetRequiredService<PipelineHost>());
        builder.Services.AddSingleton<JobQueue>();
        builder.Services.AddHostedService<JobWorker>();
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)));

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.MapOpenApi();
        ImageEndpoints.Map(app);
        return app;
    }
}
