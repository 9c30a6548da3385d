using Kestrel.Wsgi.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// Takes the client's address and scheme from a trusted proxy's X-Forwarded-* headers, before the environ is
/// built from the connection and request (REMOTE_ADDR, REMOTE_PORT, wsgi.url_scheme, HTTP_HOST). The parsing
/// (<c>ip</c>, <c>ip:port</c>, <c>[v6]:port</c>, the forward limit) is ASP.NET Core's ForwardedHeadersMiddleware;
/// this class decides whom to believe and keeps the headers themselves as the proxy sent them.
/// </summary>
internal sealed class ProxyHeaders
{
    private const string ForwardedFor = "X-Forwarded-For";
    private const string ForwardedProto = "X-Forwarded-Proto";
    private const string ForwardedHost = "X-Forwarded-Host";

    private readonly ProxyTrust _trust;
    private readonly ForwardedHeadersMiddleware _forwarder;

    public ProxyHeaders(ProxyTrust trust, ILoggerFactory loggerFactory)
    {
        _trust = trust;
        var options = new ForwardedHeadersOptions { ForwardedHeaders = trust.Headers, ForwardLimit = trust.Count };
        // Waitress semantics: only the connecting peer must be trusted, and the value Count places from the right
        // is taken as it is. The peer is checked in InvokeAsync; empty lists turn off the middleware's own
        // check of every hop, which would also demand that the proxies to the peer's left be listed.
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        _forwarder = new ForwardedHeadersMiddleware(static _ => Task.CompletedTask, loggerFactory, Options.Create(options));
    }

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (_trust.Trusts(context.Connection.RemoteIpAddress))
        {
            Apply(context);
        }
        else if (_trust.ClearUntrusted)
        {
            // waitress's clear_untrusted_proxy_headers: an app that reads them itself cannot be fooled by a client.
            IHeaderDictionary headers = context.Request.Headers;
            headers.Remove(ForwardedFor);
            headers.Remove(ForwardedProto);
            headers.Remove(ForwardedHost);
            headers.Remove("X-Forwarded-Port");
            headers.Remove("X-Forwarded-By");
            headers.Remove("Forwarded");
        }
        return next(context);
    }

    private void Apply(HttpContext context)
    {
        HttpRequest request = context.Request;
        IHeaderDictionary headers = request.Headers;
        StringValues forwardedFor = headers[ForwardedFor], forwardedProto = headers[ForwardedProto], forwardedHost = headers[ForwardedHost];
        if (forwardedFor.Count == 0 && forwardedProto.Count == 0 && forwardedHost.Count == 0)
        {
            return;
        }
        StringValues originalFor = headers[ForwardedHeadersDefaults.XOriginalForHeaderName];
        StringValues originalProto = headers[ForwardedHeadersDefaults.XOriginalProtoHeaderName];
        StringValues originalHost = headers[ForwardedHeadersDefaults.XOriginalHostHeaderName];
        int peerPort = context.Connection.RemotePort;
        string peerScheme = request.Scheme;

        _forwarder.ApplyForwarders(context);

        // The middleware moves what it consumed into X-Original-*; PEP 3333's HTTP_ variables are the request's
        // headers as sent (waitress keeps a trusted proxy's headers too), so they are put back.
        Restore(headers, ForwardedFor, forwardedFor);
        Restore(headers, ForwardedProto, forwardedProto);
        Restore(headers, ForwardedHost, forwardedHost);
        Restore(headers, ForwardedHeadersDefaults.XOriginalForHeaderName, originalFor);
        Restore(headers, ForwardedHeadersDefaults.XOriginalProtoHeaderName, originalProto);
        Restore(headers, ForwardedHeadersDefaults.XOriginalHostHeaderName, originalHost);

        if (context.Connection.RemotePort == 0)
        {
            context.Connection.RemotePort = peerPort; // an address without a port: REMOTE_PORT stays the peer's, as in waitress
        }
        if (!ReferenceEquals(request.Scheme, peerScheme))
        {
            // PEP 3333: wsgi.url_scheme is "http" or "https"; anything else a proxy claims is ignored.
            string scheme = request.Scheme.ToLowerInvariant();
            request.Scheme = scheme is "http" or "https" ? scheme : peerScheme;
        }
    }

    private static void Restore(IHeaderDictionary headers, string name, StringValues values)
    {
        if (values.Count == 0)
        {
            headers.Remove(name);
        }
        else
        {
            headers[name] = values;
        }
    }
}
