using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// Hosting behind IIS's ASP.NET Core Module, out of process: ASP.NET Core's own IIS integration
/// (<c>UseIISIntegration</c>: listen on 127.0.0.1:ASPNETCORE_PORT, refuse requests without the pairing token
/// with 400, answer <c>POST {APPL_PATH}/iisintegration</c> with <c>MS-ASPNETCORE-EVENT: shutdown</c> by 202 and a
/// graceful stop, client certificates from <c>MS-ASPNETCORE-CLIENTCERT</c>), with two changes for a WSGI server.
/// </summary>
internal static class AncmHosting
{
    private const string TokenHeader = "MS-ASPNETCORE-TOKEN";

    public static void Configure(WebApplicationBuilder builder, AncmSettings ancm)
    {
        // UseIISIntegration reads these settings before it looks at the environment: the options are the one source.
        builder.WebHost.UseSetting("PORT", ancm.Port.ToString(CultureInfo.InvariantCulture));
        builder.WebHost.UseSetting("APPL_PATH", ancm.ApplicationPath);
        builder.WebHost.UseSetting("TOKEN", ancm.Token);
        // The slim builder leaves IIS out (CreateBuilder would call this itself).
        builder.WebHost.UseIISIntegration();
        // Its startup filter runs UseForwardedHeaders before any of our middleware; that step would consume
        // X-Forwarded-For with ASP.NET Core's defaults and rewrite the header. ProxyHeaders does it instead, with
        // kwsgi's trust rules (docs/environ.md), so the module's step is switched off.
        builder.Services.PostConfigure<ForwardedHeadersOptions>(options => options.ForwardedHeaders = ForwardedHeaders.None);
    }

    /// <summary>
    /// The pairing token is a secret between IIS and kwsgi; once IISMiddleware has checked it, the app has no
    /// business seeing it (it would be HTTP_MS_ASPNETCORE_TOKEN, and apps log their environ).
    /// </summary>
    public static Task HideTokenAsync(HttpContext context, RequestDelegate next)
    {
        context.Request.Headers.Remove(TokenHeader);
        return next(context);
    }
}
