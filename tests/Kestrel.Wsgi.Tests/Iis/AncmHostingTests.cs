using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Iis;

/// <summary>
/// kwsgi started as the ASP.NET Core Module starts it out of process: ASPNETCORE_PORT, ASPNETCORE_TOKEN and
/// ASPNETCORE_APPL_PATH in the environment, no port argument, and every request carrying MS-ASPNETCORE-TOKEN plus the
/// module's X-Forwarded-For/Proto (and MS-ASPNETCORE-CLIENTCERT when IIS got a client certificate).
/// </summary>
public sealed class AncmHostingTests
{
    private const string Token = "3f0c8d1e-kwsgi-test-token";

    private static async Task<KwsgiProcess> StartAsync(string app, string applPath = "/", params string[] extraArgs)
    {
        int port = KwsgiProcess.FreePort();
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_PORT"] = port.ToString(),
            ["ASPNETCORE_TOKEN"] = Token,
            ["ASPNETCORE_APPL_PATH"] = applPath,
            ["ASPNETCORE_IIS_HTTPAUTH"] = "anonymous;",
            ["ASPNETCORE_IIS_WEBSOCKETS_SUPPORTED"] = "true",
        };
        return await KwsgiProcess.StartAndWaitAsync([.. extraArgs, "--workers", "1", app], environment, expectedPort: port);
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string? token = Token, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("MS-ASPNETCORE-TOKEN", token);
        }
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return request;
    }

    private static async Task<JsonElement> EnvironAsync(KwsgiProcess server, string path, params (string Name, string Value)[] headers)
    {
        using var request = Request(HttpMethod.Get, path, Token, headers);
        using var response = await server.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}\n{server.Describe()}");
        return await Json.ReadAsync(response);
    }

    [Fact]
    public async Task PairingToken_MissingOrWrongGets400_RightOneReachesTheApp()
    {
        await using var server = await StartAsync("hello:app");
        using (var missing = Request(HttpMethod.Get, "/", token: null))
        using (var response = await server.Client.SendAsync(missing))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        using (var wrong = Request(HttpMethod.Get, "/", token: "not-the-token"))
        using (var response = await server.Client.SendAsync(wrong))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        using (var right = Request(HttpMethod.Get, "/"))
        using (var response = await server.Client.SendAsync(right))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task ListensOnAspNetCorePort_OnLoopback_AndIgnoresAPortArgument()
    {
        int other = KwsgiProcess.FreePort();
        await using var server = await StartAsync("hello:app", "/", "--port", other.ToString());
        Assert.Contains($"Listening on http://127.0.0.1:{server.Port} ", server.Stdout);
        Assert.Contains($"--port {other} is ignored", server.Stdout);
        Assert.Contains("Behind IIS's ASP.NET Core Module", server.Stdout);
        using var request = Request(HttpMethod.Get, "/");
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ApplicationPath_IsScriptName_AndTheRestIsPathInfo()
    {
        await using var server = await StartAsync("envecho:app", "/myapp");
        var environ = await EnvironAsync(server, "/myapp/orders/7%2F8?x=1");
        Assert.Equal("/myapp", environ.Str("SCRIPT_NAME"));
        Assert.Equal("/orders/7/8", environ.Str("PATH_INFO"));
        Assert.Equal("x=1", environ.Str("QUERY_STRING"));
        Assert.Equal("/myapp/orders/7%2F8?x=1", environ.Str("REQUEST_URI"));

        var root = await EnvironAsync(server, "/myapp");
        Assert.Equal("/myapp", root.Str("SCRIPT_NAME"));
        Assert.Equal("", root.Str("PATH_INFO"));

        // IIS matched the application path without regard to case before forwarding; so does kwsgi.
        var upper = await EnvironAsync(server, "/MyApp/x");
        Assert.Equal("/myapp", upper.Str("SCRIPT_NAME"));
        Assert.Equal("/x", upper.Str("PATH_INFO"));

        using var outside = Request(HttpMethod.Get, "/myapplication/x");
        using var response = await server.Client.SendAsync(outside);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task UrlPrefixOption_WinsOverTheApplicationPath()
    {
        await using var server = await StartAsync("envecho:app", "/", "--url-prefix", "/api");
        var environ = await EnvironAsync(server, "/api/v1");
        Assert.Equal("/api", environ.Str("SCRIPT_NAME"));
        Assert.Equal("/v1", environ.Str("PATH_INFO"));
    }

    [Fact]
    public async Task PairingToken_NeverReachesTheEnviron()
    {
        await using var server = await StartAsync("envecho:app");
        var environ = await EnvironAsync(server, "/");
        Assert.False(environ.TryGetProperty("HTTP_MS_ASPNETCORE_TOKEN", out _), "the pairing token reached the app");
    }

    [Fact]
    public async Task ForwardedForAndProto_FromTheModule_BecomeRemoteAddrAndUrlScheme()
    {
        await using var server = await StartAsync("envecho:app", "/myapp");
        var environ = await EnvironAsync(server, "/myapp/", ("X-Forwarded-For", "[2001:db8::1]:50123"), ("X-Forwarded-Proto", "https"));
        Assert.Equal("2001:db8::1", environ.Str("REMOTE_ADDR"));
        Assert.Equal("50123", environ.Str("REMOTE_PORT"));
        Assert.Equal("https", environ.Str("wsgi.url_scheme"));
        Assert.Equal("on", environ.Str("HTTPS"));
        Assert.Contains("the ASP.NET Core Module runs on this machine", server.Stdout);
    }

    [Fact]
    public async Task ClientCertificateHeader_BecomesSslClientCertInPem()
    {
        using var key = RSA.Create(2048);
        var certificateRequest = new CertificateRequest("CN=kwsgi test client", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using X509Certificate2 certificate = certificateRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        await using var server = await StartAsync("envecho:app");
        // ANCM sends the DER bytes in base64 on one line.
        var environ = await EnvironAsync(server, "/", ("MS-ASPNETCORE-CLIENTCERT", Convert.ToBase64String(certificate.RawData)));
        string pem = environ.Str("SSL_CLIENT_CERT");
        Assert.Equal(certificate.ExportCertificatePem(), pem);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----\n", pem);

        var without = await EnvironAsync(server, "/");
        Assert.False(without.TryGetProperty("SSL_CLIENT_CERT", out _), "SSL_CLIENT_CERT without a client certificate");
    }

    [Fact]
    public async Task ShutdownEvent_Answers202_FinishesTheInFlightRequest_ThenExitsZero()
    {
        await using var server = await StartAsync("stream:app", "/myapp", "--graceful-timeout", "20");
        var workers = await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10));

        // A request the app is in the middle of: its first chunk is here, the second comes 2 s later.
        using var streamRequest = Request(HttpMethod.Get, "/myapp/?n=2&delay=2");
        using var inFlight = await server.Client.SendAsync(streamRequest, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, inFlight.StatusCode);
        await using var body = await inFlight.Content.ReadAsStreamAsync();
        var received = new MemoryStream();
        var buffer = new byte[256];
        while (!received.ToArray().Contains((byte)'\n'))
        {
            int n = await body.ReadAsync(buffer);
            Assert.True(n > 0, "the response ended before its first chunk");
            received.Write(buffer, 0, n);
        }

        using (var client = server.CreateClient(TimeSpan.FromSeconds(30)))
        using (var shutdown = Request(HttpMethod.Post, "/myapp/iisintegration", Token, ("MS-ASPNETCORE-EVENT", "shutdown")))
        using (var response = await client.SendAsync(shutdown))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, read);
        }
        Assert.Equal("chunk 0\nchunk 1\n", System.Text.Encoding.ASCII.GetString(received.ToArray()));
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"kwsgi still running after the shutdown event\n{server.Describe()}");
        Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode}\n{server.Describe()}");
        Assert.True(await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(10)),
            $"workers still alive after the front exited: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
    }

    [Fact]
    public async Task ShutdownEvent_WhileTheAppIsStillWorkingOnARequest_LetsItAnswer()
    {
        await using var server = await StartAsync("slow:app", "/", "--graceful-timeout", "20");
        using var slowRequest = Request(HttpMethod.Get, "/?s=3");
        Task<HttpResponseMessage> slow = server.Client.SendAsync(slowRequest);
        // No byte of the answer exists until the app wakes up; give the request time to reach the worker (slow.py
        // sleeps 3 s, so the shutdown still lands while it sleeps).
        await Task.Delay(1000);
        using (var client = server.CreateClient(TimeSpan.FromSeconds(30)))
        using (var shutdown = Request(HttpMethod.Post, "/iisintegration", Token, ("MS-ASPNETCORE-EVENT", "shutdown")))
        using (var response = await client.SendAsync(shutdown))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
        using HttpResponseMessage finished = await slow;
        Assert.Equal(HttpStatusCode.OK, finished.StatusCode);
        Assert.Equal("slept", await finished.Content.ReadAsStringAsync());
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"kwsgi still running after the shutdown event\n{server.Describe()}");
        Assert.Equal(0, server.ExitCode);
    }

    [Fact]
    public async Task ShutdownEvent_WithoutTheToken_IsRefused_AndTheServerKeepsServing()
    {
        await using var server = await StartAsync("hello:app");
        using (var shutdown = Request(HttpMethod.Post, "/iisintegration", token: "wrong", ("MS-ASPNETCORE-EVENT", "shutdown")))
        using (var response = await server.Client.SendAsync(shutdown))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        using var request = Request(HttpMethod.Get, "/");
        using var ok = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.False(server.HasExited);
    }

    [Theory]
    [InlineData("ASPNETCORE_TOKEN", "ASPNETCORE_PORT")]
    [InlineData("ASPNETCORE_PORT", "ASPNETCORE_TOKEN")]
    public async Task HalfTheModulesSettings_ExitCode2_WithOneLineNamingTheMissingVariable(string set, string missing)
    {
        var environment = new Dictionary<string, string?> { [set] = set == "ASPNETCORE_PORT" ? KwsgiProcess.FreePort().ToString() : Token };
        var exit = await KwsgiProcess.RunToExitAsync(["--workers", "1", "hello:app"], TimeSpan.FromSeconds(30), environment, TestPaths.AppsDir);
        Assert.True(exit.ExitCode == 2, exit.ToString());
        string output = (exit.Stdout + exit.Stderr).Trim();
        Assert.DoesNotContain('\n', output);
        Assert.StartsWith("kwsgi: ", output);
        Assert.Contains(missing, output);
    }
}
