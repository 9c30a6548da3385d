using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>
/// Certificates made for one test run (nothing is committed): a CA, a server certificate it signed for localhost,
/// 127.0.0.1 and ::1, a client certificate it signed, and a server certificate signed by an intermediate CA, written as PEM and PKCS#12 to a temp folder that
/// <see cref="Dispose"/> deletes (a class fixture: one set per test class).
/// </summary>
public sealed class TestCertificates : IDisposable
{
    public const string PfxPassword = "kwsgi-test-password";
    public const string KeyPassword = "kwsgi-key-password";

    public TestCertificates()
    {
        Folder = Path.Combine(Path.GetTempPath(), $"kwsgi-certs-{Guid.NewGuid():N}");
        DateTimeOffset now = _now;

        using RSA caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=kwsgi test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        Authority = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        Server = Issue("CN=localhost", "1.3.6.1.5.5.7.3.1", san =>
        {
            san.AddDnsName("localhost");
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            san.AddIpAddress(System.Net.IPAddress.IPv6Loopback);
        });
        Client = Issue("CN=kwsgi test client", "1.3.6.1.5.5.7.3.2", null);
        Intermediate = IssueAuthority("CN=kwsgi test intermediate CA");
        ChainedServer = Issue("CN=localhost", "1.3.6.1.5.5.7.3.1", san => san.AddDnsName("localhost"), Intermediate);

        // Only now: a constructor that throws gets no Dispose, so nothing may be on disk before this point.
        Directory.CreateDirectory(Folder);
        CaPem = Write("ca.pem", Authority.ExportCertificatePem());
        ServerCertPem = Write("server.pem", Server.ExportCertificatePem());
        ServerKeyPem = Write("server.key", Server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        ChainedServerPem = Write("chained.pem", ChainedServer.ExportCertificatePem() + "\n" + Intermediate.ExportCertificatePem() + "\n");
        ChainedServerKeyPem = Write("chained.key", ChainedServer.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        ServerCombinedPem = Write("server-combined.pem", Server.ExportCertificatePem() + "\n" + Server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
        ServerEncryptedKeyPem = Write("server-encrypted.key", Server.GetRSAPrivateKey()!.ExportEncryptedPkcs8PrivateKeyPem(KeyPassword,
            new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000)));
        ServerPfx = Path.Combine(Folder, "server.pfx");
        File.WriteAllBytes(ServerPfx, Server.Export(X509ContentType.Pkcs12, PfxPassword));
        ClientCertPem = Write("client.pem", Client.ExportCertificatePem());
        ClientKeyPem = Write("client.key", Client.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        using RSA otherKey = RSA.Create(2048);
        OtherKeyPem = Write("other.key", otherKey.ExportPkcs8PrivateKeyPem());
        GarbagePem = Write("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
    }

    public string Folder { get; }

    /// <summary>One clock for every certificate of the set: an issued one must not outlive its issuer.</summary>
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

    public X509Certificate2 Authority { get; }
    public X509Certificate2 Server { get; }
    public X509Certificate2 Client { get; }
    public X509Certificate2 Intermediate { get; }
    public X509Certificate2 ChainedServer { get; }

    public string CaPem { get; }
    public string ServerCertPem { get; }
    public string ServerKeyPem { get; }
    /// <summary>A leaf signed by <see cref="Intermediate"/>, followed by the intermediate: clients that trust only the root need both.</summary>
    public string ChainedServerPem { get; }
    public string ChainedServerKeyPem { get; }
    public string ServerCombinedPem { get; }
    public string ServerEncryptedKeyPem { get; }
    public string ServerPfx { get; }
    public string ClientCertPem { get; }
    public string ClientKeyPem { get; }
    public string OtherKeyPem { get; }
    public string GarbagePem { get; }

    /// <summary>For .NET clients: trusts exactly the test CA.</summary>
    public bool ValidateServer(X509Certificate2? certificate)
    {
        if (certificate is null)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    /// <summary>An HttpClient that trusts the test CA and speaks exactly <paramref name="version"/> (2.0 without TLS is prior knowledge).</summary>
    public HttpClient CreateClient(Uri baseAddress, Version version, X509Certificate2? clientCertificate = null)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => ValidateServer(certificate as X509Certificate2),
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            },
        };
        return new HttpClient(handler)
        {
            BaseAddress = baseAddress,
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    private X509Certificate2 IssueAuthority(string subject)
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Authority, true, false));
        using X509Certificate2 issued = request.Create(Authority, _now.AddDays(-1), _now.AddDays(29), Serial());
        return issued.CopyWithPrivateKey(key);
    }

    private static byte[] Serial()
    {
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        return serial;
    }

    private X509Certificate2 Issue(string subject, string usage, Action<SubjectAlternativeNameBuilder>? names, X509Certificate2? issuer = null)
    {
        issuer ??= Authority;
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (names is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            names(san);
            request.CertificateExtensions.Add(san.Build());
        }
        using X509Certificate2 issued = request.Create(issuer, _now.AddDays(-1), _now.AddDays(28), Serial());
        return issued.CopyWithPrivateKey(key);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(Folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
