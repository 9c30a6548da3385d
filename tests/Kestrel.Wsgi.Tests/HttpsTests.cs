using System.Net;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// HTTPS (issue 12 part 1) with real clients: Python's http.client and ssl, curl, openssl s_client, .NET's HttpClient;
/// certificates made at test time (<see cref="TestCertificates"/>), PEM as gunicorn takes them and PKCS#12.
/// </summary>
public sealed class HttpsTests(TestCertificates certs) : IClassFixture<TestCertificates>
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    /// <summary>kwsgi with one worker serving tests/apps/protocols.py; <paramref name="args"/> say where it listens.</summary>
    internal static Task<KwsgiProcess> StartAsync(IEnumerable<string> args, IDictionary<string, string?>? environment = null) =>
        KwsgiProcess.StartAndWaitAsync(["--chdir", TestPaths.AppsDir, "--workers", "1", .. args, "protocols:app"], environment, null);

    private static JsonElement Environ(JsonElement answer)
    {
        Assert.True(answer.TryGetProperty("status", out JsonElement status), $"the client failed: {answer}");
        Assert.Equal(200, status.GetInt32());
        return Json.Parse(answer.Str("body"));
    }

    [Fact]
    public async Task PemCertificate_ServesHttpsBesideHttp_EachWithItsOwnEnviron()
    {
        int tls = KwsgiProcess.FreePort(), clear = KwsgiProcess.FreePort();
        await using var server = await StartAsync(["--listen", $"https://127.0.0.1:{tls}", "--listen", $"http://127.0.0.1:{clear}",
            "--certfile", certs.ChainedServerPem, "--keyfile", certs.ChainedServerKeyPem]);
        Assert.Contains($"Listening on https://127.0.0.1:{tls}, http://127.0.0.1:{clear} (", server.Stdout);
        Assert.Contains("kwsgi: TLS certificate CN=localhost, expires ", server.Stdout);

        JsonElement secure = Environ(await ExternalTool.PythonHttpsGetAsync($"https://localhost:{tls}/a?b=c", certs.CaPem));
        Assert.Equal("https", secure.Str("wsgi.url_scheme"));
        Assert.Equal("on", secure.Str("HTTPS"));
        Assert.Equal(tls.ToString(), secure.Str("SERVER_PORT"));
        Assert.Equal("HTTP/1.1", secure.Str("SERVER_PROTOCOL"));
        Assert.Equal("/a", secure.Str("PATH_INFO"));
        Assert.False(secure.TryGetProperty("SSL_CLIENT_CERT", out _));

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{clear}/") };
        JsonElement plain = await Json.ReadAsync(await http.GetAsync("/"));
        Assert.Equal("http", plain.Str("wsgi.url_scheme"));
        Assert.False(plain.TryGetProperty("HTTPS", out _));
        Assert.Equal(clear.ToString(), plain.Str("SERVER_PORT"));

        // The intermediate that follows the leaf in --certfile goes out with it: the client above trusts only the root.
        ToolRun shown = await ExternalTool.RunAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{tls}", "-servername", "localhost", "-showcerts"]);
        Assert.Equal(2, shown.Stdout.Split("-----BEGIN CERTIFICATE-----").Length - 1);
    }

    [Fact]
    public async Task Pkcs12Certificate_PasswordFromTheEnvironment_MakesHostAndPortHttps()
    {
        int port = KwsgiProcess.FreePort();
        // As gunicorn's --certfile: a listener that names no scheme is HTTPS once there is a certificate.
        await using var server = await StartAsync(["--host", "127.0.0.1", "--port", port.ToString(), "--certificate", certs.ServerPfx],
            new Dictionary<string, string?> { ["KWSGI_CERTIFICATE_PASSWORD"] = TestCertificates.PfxPassword });
        Assert.Contains($"Listening on https://127.0.0.1:{port} (", server.Stdout);

        using HttpClient client = certs.CreateClient(new Uri($"https://localhost:{port}/"), HttpVersion.Version11);
        using HttpResponseMessage response = await client.GetAsync("/x");
        JsonElement environ = await Json.ReadAsync(response);
        Assert.Equal("https", environ.Str("wsgi.url_scheme"));
        Assert.Equal(port.ToString(), environ.Str("SERVER_PORT"));

        ToolRun curl = await ExternalTool.RunAsync("curl", ["-sS", "--cacert", certs.CaPem, $"https://localhost:{port}/curl"]);
        Assert.True(curl.ExitCode == 0, curl.ToString());
        Assert.Equal("/curl", Json.Parse(curl.Stdout).Str("PATH_INFO"));
    }

    [Theory]
    [InlineData("key in the certificate file")]
    [InlineData("encrypted key")]
    public async Task PemKeyForms_Serve(string form)
    {
        int port = KwsgiProcess.FreePort();
        string[] args = form == "encrypted key"
            ? ["--certfile", certs.ServerCertPem, "--keyfile", certs.ServerEncryptedKeyPem]
            : ["--certfile", certs.ServerCombinedPem];
        await using var server = await StartAsync(["--listen", $"https://127.0.0.1:{port}", .. args],
            new Dictionary<string, string?> { ["KWSGI_CERTIFICATE_PASSWORD"] = TestCertificates.KeyPassword });
        Assert.Equal("https", Environ(await ExternalTool.PythonHttpsGetAsync($"https://localhost:{port}/", certs.CaPem)).Str("wsgi.url_scheme"));
    }

    [Fact]
    public async Task Tls12And13_AreServed_Tls11_IsRefused()
    {
        int port = KwsgiProcess.FreePort();
        await using var server = await StartAsync(["--listen", $"https://127.0.0.1:{port}", "--certfile", certs.ServerCertPem, "--keyfile", certs.ServerKeyPem]);
        string url = $"https://localhost:{port}/";
        Assert.Equal("TLSv1.2", (await ExternalTool.PythonHttpsGetAsync(url, certs.CaPem, "--tls", "1.2")).Str("tls"));
        Assert.Equal("TLSv1.3", (await ExternalTool.PythonHttpsGetAsync(url, certs.CaPem, "--tls", "1.3")).Str("tls"));
        JsonElement old = await ExternalTool.PythonHttpsGetAsync(url, certs.CaPem, "--tls", "1.1");
        Assert.True(old.TryGetProperty("error", out _), $"TLS 1.1 was served: {old}");
    }

    [Fact]
    public async Task ClientCertificateRequired_ReachesTheAppAsSslClientCert_AndNoCertificateCannotConnect()
    {
        int port = KwsgiProcess.FreePort();
        await using var server = await StartAsync(["--listen", $"https://127.0.0.1:{port}", "--certfile", certs.ServerCertPem, "--keyfile", certs.ServerKeyPem,
            "--ssl-client-cert", "required", "--ca-certs", certs.CaPem]);
        string url = $"https://localhost:{port}/";

        JsonElement environ = Environ(await ExternalTool.PythonHttpsGetAsync(url, certs.CaPem, "--cert", certs.ClientCertPem, "--key", certs.ClientKeyPem));
        Assert.Equal(Normalize(File.ReadAllText(certs.ClientCertPem)), Normalize(environ.Str("SSL_CLIENT_CERT")));

        JsonElement without = await ExternalTool.PythonHttpsGetAsync(url, certs.CaPem);
        Assert.True(without.TryGetProperty("error", out _), $"served without a client certificate: {without}");
    }

    [Fact]
    public async Task ClientCertificateOptional_ServesWithout_AndRefusesOneNotForClients()
    {
        int port = KwsgiProcess.FreePort();
        await using var server = await StartAsync(["--listen", $"https://127.0.0.1:{port}", "--certfile", certs.ServerCertPem, "--keyfile", certs.ServerKeyPem,
            "--ssl-client-cert", "optional", "--ca-certs", certs.CaPem]);
        string url = $"https://localhost:{port}/";

        JsonElement without = Environ(await ExternalTool.PythonHttpsGetAsync(url, certs.CaPem));
        Assert.False(without.TryGetProperty("SSL_CLIENT_CERT", out _));
        JsonElement with = Environ(await ExternalTool.PythonHttpsGetAsync(url, certs.CaPem, "--cert", certs.ClientCertPem, "--key", certs.ClientKeyPem));
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", with.Str("SSL_CLIENT_CERT"));

        // Signed by the same CA but for servers only (its extended key usage): a sent certificate must verify.
        JsonElement wrongUse = await ExternalTool.PythonHttpsGetAsync(url, certs.CaPem, "--cert", certs.ServerCertPem, "--key", certs.ServerKeyPem);
        Assert.True(wrongUse.TryGetProperty("error", out _), $"a server certificate was taken for a client's: {wrongUse}");
    }

    private static string Normalize(string pem) => pem.Replace("\r", "").Trim();

    [Fact]
    public async Task ListenForms_StarAndIpv6_AndTheEnvironmentsListenWinsOverItsPort()
    {
        int any = KwsgiProcess.FreePort(), v6 = KwsgiProcess.FreePort();
        // A container image sets KWSGI_PORT; KWSGI_LISTEN (or --listen) replaces it rather than adding to it.
        await using var server = await KwsgiProcess.StartAndWaitAsync([], new Dictionary<string, string?>
        {
            ["KWSGI_APP"] = "protocols:app",
            ["KWSGI_CHDIR"] = TestPaths.AppsDir,
            ["KWSGI_WORKERS"] = "1",
            ["KWSGI_HOST"] = "0.0.0.0",
            ["KWSGI_PORT"] = KwsgiProcess.FreePort().ToString(),
            ["KWSGI_LISTEN"] = $"*:{any}; [::1]:{v6}",
        }, null);
        Assert.Contains($"Listening on http://*:{any}, http://[::1]:{v6} (", server.Stdout);
        using var client = new HttpClient();
        Assert.Equal(any.ToString(), (await Json.ReadAsync(await client.GetAsync($"http://127.0.0.1:{any}/"))).Str("SERVER_PORT"));
        Assert.Equal(any.ToString(), (await Json.ReadAsync(await client.GetAsync($"http://[::1]:{any}/"))).Str("SERVER_PORT"));
        JsonElement overV6 = await Json.ReadAsync(await client.GetAsync($"http://[::1]:{v6}/"));
        Assert.Equal("::1", overV6.Str("REMOTE_ADDR"));
        Assert.Equal(v6.ToString(), overV6.Str("SERVER_PORT"));
    }

    public static TheoryData<string, string, string?> BadTlsCommandLines => new()
    {
        { "certificate file missing", "--certfile {dir}/nothing.pem --keyfile {key}", "nothing.pem" },
        { "certificate file without a certificate", "--certfile {key} --keyfile {key}", "--certfile" },
        { "certificate file that is not one", "--certfile {dir}/garbage.pem --keyfile {key}", "garbage.pem" },
        { "key of another certificate", "--certfile {cert} --keyfile {dir}/other.key", "other.key" },
        { "key file without a key", "--certfile {cert} --keyfile {cert}", "--keyfile" },
        { "certificate without a key", "--certfile {cert}", "--keyfile" },
        { "encrypted key without a password", "--certfile {cert} --keyfile {dir}/server-encrypted.key", "KWSGI_CERTIFICATE_PASSWORD" },
        { "pfx without its password", "--certificate {dir}/server.pfx", "KWSGI_CERTIFICATE_PASSWORD" },
        { "pfx that is not one", "--certificate {cert}", "--certificate" },
        { "keyfile alone", "--keyfile {key}", "--keyfile" },
        { "both certificate forms", "--certfile {cert} --keyfile {key} --certificate {dir}/server.pfx", "--certificate" },
        { "https listener without a certificate", "--listen https://127.0.0.1:{port}", "https://127.0.0.1:" },
        { "certificate with only http listeners", "--listen http://127.0.0.1:{port} --certfile {cert} --keyfile {key}", "no listener is HTTPS" },
        { "client certificates without https", "--ssl-client-cert required", "--ssl-client-cert" },
        { "client certificate mode unknown", "--ssl-client-cert sometimes --certfile {cert} --keyfile {key}", "sometimes" },
        { "ca-certs without client certificates", "--ca-certs {dir}/ca.pem --certfile {cert} --keyfile {key}", "--ca-certs" },
        { "ca-certs without a certificate", "--ssl-client-cert optional --ca-certs {key} --certfile {cert} --keyfile {key}", "--ca-certs" },
        { "listen without a port", "--listen 127.0.0.1", "port" },
        { "listen with an unknown scheme", "--listen ftp://127.0.0.1:{port}", "http, https or h2c" },
        { "listen on a host name", "--listen example.com:{port}", "example.com" },
        { "listen on IPv6 without brackets", "--listen ::1:{port}", "brackets" },
        { "listen and --port", "--listen 127.0.0.1:{port} --port {port}", "--listen" },
    };

    [Theory]
    [MemberData(nameof(BadTlsCommandLines))]
    public async Task BadCertificateOrListener_ExitsWithCode2_AndOneLine(string what, string args, string? mentioned)
    {
        _ = what;
        int port = KwsgiProcess.FreePort();
        string[] expanded = args.Replace("{dir}", certs.Folder).Replace("{cert}", certs.ServerCertPem).Replace("{key}", certs.ServerKeyPem)
            .Replace("{port}", port.ToString()).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        bool hasListener = expanded.Contains("--listen") || expanded.Contains("--port");
        string[] listener = hasListener ? [] : ["--host", "127.0.0.1", "--port", port.ToString()];
        var exit = await KwsgiProcess.RunToExitAsync([.. listener, "--chdir", TestPaths.AppsDir, "--workers", "1", .. expanded, "hello:app"], ExitTimeout,
            new Dictionary<string, string?> { ["KWSGI_CERTIFICATE_PASSWORD"] = null });
        BadCommandLineTests.AssertCleanFailure(exit);
        if (mentioned is not null)
        {
            Assert.Contains(mentioned, exit.Stderr);
        }
    }

    [Fact]
    public async Task WrongPfxPassword_ExitsWithCode2_AndOneLine()
    {
        var exit = await KwsgiProcess.RunToExitAsync(["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir,
            "--workers", "1", "--certificate", certs.ServerPfx, "hello:app"], ExitTimeout,
            new Dictionary<string, string?> { ["KWSGI_CERTIFICATE_PASSWORD"] = "not-the-password" });
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains("KWSGI_CERTIFICATE_PASSWORD", exit.Stderr);
    }
}
