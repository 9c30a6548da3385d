using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kestrel.Wsgi.Hosting;

/// <summary>Whether HTTPS listeners ask clients for a certificate (<c>--ssl-client-cert</c>).</summary>
public enum ClientCertificateRequirement
{
    /// <summary>Not asked for.</summary>
    None,

    /// <summary>Asked for; a client may send none, but one it sends must verify.</summary>
    Optional,

    /// <summary>A client without a certificate that verifies cannot connect.</summary>
    Required,
}

/// <summary>
/// How a client certificate is verified: against the CA certificates of <c>--ca-certs</c> when given (as gunicorn's
/// <c>--ca-certs</c>), else the system's trusted roots; revocation is not checked (neither OpenSSL nor gunicorn do by
/// default, and an online check would hold every handshake). The app sees the certificate as SSL_CLIENT_CERT.
/// </summary>
internal sealed class ClientCertificatePolicy
{
    private static readonly Oid s_clientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2Collection? _authorities;

    private ClientCertificatePolicy(X509Certificate2Collection? authorities) => _authorities = authorities;

    /// <summary>The policy for <paramref name="caCertsFile"/> (PEM, one or more certificates), or the system's roots when null.</summary>
    public static ClientCertificatePolicy Load(string? caCertsFile)
    {
        if (caCertsFile is null)
        {
            return new ClientCertificatePolicy(null);
        }
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(caCertsFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new UsageException($"--ca-certs {caCertsFile} cannot be read: {ex.Message.Split('\n', 2)[0].Trim()}");
        }
        if (authorities.Count == 0)
        {
            throw new UsageException($"--ca-certs {caCertsFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
        return new ClientCertificatePolicy(authorities);
    }

    /// <summary>True when <paramref name="certificate"/> chains to a trusted root and may authenticate a client.</summary>
    public bool Verify(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(s_clientAuthentication);
        if (_authorities is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        }
        return chain.Build(certificate);
    }
}
