using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// The server's certificate for HTTPS listeners: from PEM files (<c>--certfile</c>, <c>--keyfile</c>, as gunicorn) or a
/// PKCS#12 file (<c>--certificate</c>), with <see cref="Chain"/> the intermediates that follow the leaf in the PEM file.
/// Every problem is a <see cref="UsageException"/>: one sentence naming the file, never a stack trace.
/// </summary>
internal sealed class ServerCertificate
{
    public required X509Certificate2 Certificate { get; init; }

    /// <summary>Intermediate certificates sent with the leaf, so clients that know only the root can build the chain.</summary>
    public X509Certificate2Collection Chain { get; init; } = [];

    /// <summary>The certificate the options name, or null when they name none.</summary>
    public static ServerCertificate? Load(KwsgiOptions options)
    {
        if (options.CertFile is not null && options.Certificate is not null)
        {
            throw new UsageException("--certfile and --certificate both name a certificate: give one");
        }
        if (options.KeyFile is not null && options.CertFile is null)
        {
            throw new UsageException("--keyfile needs --certfile");
        }
        ServerCertificate? loaded = options.CertFile is not null ? FromPem(options.CertFile, options.KeyFile, options.CertificatePassword)
            : options.Certificate is not null ? FromPkcs12(options.Certificate, options.CertificatePassword)
            : null;
        if (loaded is not null && !loaded.Certificate.HasPrivateKey)
        {
            throw new UsageException($"the certificate in {options.CertFile ?? options.Certificate} comes without its private key");
        }
        return loaded;
    }

    private static ServerCertificate FromPem(string certFile, string? keyFile, string? password)
    {
        string certText = Read(certFile, "--certfile");
        string keyText = keyFile is null ? certText : Read(keyFile, "--keyfile");
        string keySource = keyFile ?? certFile;
        var all = new X509Certificate2Collection();
        try
        {
            all.ImportFromPem(certText);
        }
        catch (CryptographicException ex)
        {
            throw new UsageException($"--certfile {certFile} holds a certificate that cannot be read: {Sentence(ex)}");
        }
        if (all.Count == 0)
        {
            throw new UsageException($"--certfile {certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
        bool encrypted = keyText.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal);
        if (!encrypted && !keyText.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new UsageException(keyFile is null
                ? $"--certfile {certFile} holds no private key: give it with --keyfile"
                : $"--keyfile {keyFile} holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
        }
        if (encrypted && string.IsNullOrEmpty(password))
        {
            throw new UsageException($"the private key in {keySource} is encrypted: set its password in {KwsgiOptions.CertificatePasswordVariable}");
        }
        X509Certificate2 leaf;
        try
        {
            // The first certificate is the server's; the key is matched against it.
            leaf = encrypted ? X509Certificate2.CreateFromEncryptedPem(all[0].ExportCertificatePem(), keyText, password)
                : X509Certificate2.CreateFromPem(all[0].ExportCertificatePem(), keyText);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new UsageException(encrypted
                ? $"the private key in {keySource} cannot be read with the password in {KwsgiOptions.CertificatePasswordVariable}, or does not belong to the certificate in {certFile}: {Sentence(ex)}"
                : $"the private key in {keySource} cannot be used with the certificate in {certFile}: {Sentence(ex)}");
        }
        // SChannel keeps no ephemeral (in-memory) keys: on Windows the pair goes through PKCS#12, as Kestrel's own PEM loader does.
        if (OperatingSystem.IsWindows())
        {
            X509Certificate2 persisted = X509CertificateLoader.LoadPkcs12(leaf.Export(X509ContentType.Pkcs12), null);
            leaf.Dispose();
            leaf = persisted;
        }
        var chain = new X509Certificate2Collection();
        for (int i = 1; i < all.Count; i++)
        {
            chain.Add(all[i]);
        }
        return new ServerCertificate { Certificate = leaf, Chain = chain };
    }

    private static ServerCertificate FromPkcs12(string file, string? password)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--certificate {file} cannot be read: {Sentence(ex)}");
        }
        try
        {
            return new ServerCertificate { Certificate = X509CertificateLoader.LoadPkcs12(data, password, X509KeyStorageFlags.DefaultKeySet) };
        }
        catch (CryptographicException ex)
        {
            string hint = string.IsNullOrEmpty(password) ? $" (is its password set in {KwsgiOptions.CertificatePasswordVariable}?)" : $" (is {KwsgiOptions.CertificatePasswordVariable} its password?)";
            throw new UsageException($"--certificate {file} is not a PKCS#12 (.pfx) file kwsgi can open: {Sentence(ex).TrimEnd('.')}{hint}");
        }
    }

    private static string Read(string file, string option)
    {
        try
        {
            return File.ReadAllText(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{option} {file} cannot be read: {Sentence(ex)}");
        }
    }

    /// <summary>The first line of an exception's message: .NET's crypto messages sometimes run on.</summary>
    private static string Sentence(Exception ex) => ex.Message.Split('\n', 2)[0].Trim();

    /// <summary><c>CN=example.com, expires 2027-01-01</c>, for the startup log.</summary>
    public string Describe() =>
        $"{Certificate.Subject}, expires {Certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}{(Certificate.NotAfter < DateTime.Now ? " (EXPIRED: clients will refuse it)" : "")}";
}
