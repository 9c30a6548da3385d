using System.Security.Authentication;
using Kestrel.Wsgi.Front.HalfClose;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Kestrel.Wsgi.Hosting;

/// <summary>Kestrel's endpoints for kwsgi's listeners: HTTP/1.1, HTTPS with HTTP/2 by ALPN, or h2c (docs/https.md).</summary>
internal static class KestrelListeners
{
    public static void Apply(KestrelServerOptions kestrel, IReadOnlyList<ListenAddress> listeners, ServerCertificate? certificate,
        ClientCertificateRequirement clientCertificates, ClientCertificatePolicy? clientPolicy)
    {
        foreach (ListenAddress listener in listeners)
        {
            ListenScheme scheme = listener.Resolve(certificate is not null);
            void Configure(ListenOptions options)
            {
                switch (scheme)
                {
                    case ListenScheme.Https:
                        options.Protocols = HttpProtocols.Http1AndHttp2;
                        // KwsgiServer checked that an https:// listener has its certificate.
                        options.UseHttps(Https(certificate!, clientCertificates, clientPolicy));
                        break;
                    case ListenScheme.H2c:
                        // Kestrel serves prior-knowledge HTTP/2 on a cleartext endpoint only when it speaks nothing else.
                        options.Protocols = HttpProtocols.Http2;
                        break;
                    default:
                        // Without TLS there is no ALPN: Http1AndHttp2 would serve HTTP/1.1 all the same (Kestrel 10 does not
                        // sniff the HTTP/2 preface) and log a warning saying so at every start.
                        options.Protocols = HttpProtocols.Http1;
                        // A client that half-closes after its request still gets the answer (RFC 9112 9.6).
                        options.Use(HalfCloseConnection.Use);
                        break;
                }
            }
            if (listener.UnixPath is string path)
            {
                UnixSocketFile.RemoveStale(path);
                kestrel.ListenUnixSocket(path, Configure);
                continue;
            }
            switch (listener.Host)
            {
                case ListenAddress.AnyHost:
                    kestrel.ListenAnyIP(listener.Port, Configure);
                    break;
                case "localhost":
                    kestrel.ListenLocalhost(listener.Port, Configure);
                    break;
                default:
                    kestrel.Listen(listener.Address!, listener.Port, Configure);
                    break;
            }
        }
    }

    private static HttpsConnectionAdapterOptions Https(ServerCertificate certificate, ClientCertificateRequirement clientCertificates, ClientCertificatePolicy? clientPolicy)
    {
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate.Certificate,
            ServerCertificateChain = certificate.Chain.Count > 0 ? certificate.Chain : null,
            // TLS 1.2 and 1.3 only; the cipher suites stay the platform's (OpenSSL's, SChannel's) defaults.
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateMode = clientCertificates switch
            {
                ClientCertificateRequirement.Required => ClientCertificateMode.RequireCertificate,
                ClientCertificateRequirement.Optional => ClientCertificateMode.AllowCertificate,
                _ => ClientCertificateMode.NoCertificate,
            },
            CheckCertificateRevocation = false,
        };
        if (clientPolicy is not null)
        {
            // Kestrel's own check would also ask the system's roots; kwsgi's trusts --ca-certs when given.
            https.ClientCertificateValidation = (client, _, _) => clientPolicy.Verify(client);
        }
        return https;
    }
}
