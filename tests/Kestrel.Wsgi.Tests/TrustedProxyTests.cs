using Kestrel.Wsgi.Tests.Iis;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>--trusted-proxy, --trusted-proxy-headers, --trusted-proxy-count outside IIS (waitress's semantics).</summary>
public sealed class TrustedProxyTests
{
    [Fact]
    public async Task WithoutTrustedProxy_ForwardedHeadersChangeNothing_ButReachTheApp()
    {
        await using var server = await KwsgiProcess.StartAsync("envecho:app", "--workers", "1");
        var environ = await HttpPlatformHostingTests.EnvironAsync(server, "/", ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https"));
        Assert.Equal("127.0.0.1", environ.Str("REMOTE_ADDR"));
        Assert.Equal("http", environ.Str("wsgi.url_scheme"));
        Assert.Equal("1.2.3.4", environ.Str("HTTP_X_FORWARDED_FOR"));
        Assert.DoesNotContain("kwsgi: Trusting", server.Stdout);
    }

    [Fact]
    public async Task TrustedNetwork_WithCount2_TakesTheSecondValueFromTheRight()
    {
        await using var server = await KwsgiProcess.StartAsync("envecho:app", "--workers", "1",
            "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "127.0.0.0/8", "--trusted-proxy-count", "2");
        var environ = await HttpPlatformHostingTests.EnvironAsync(server, "/", ("X-Forwarded-For", "203.0.113.9, 198.51.100.7:4000, 10.1.2.3"));
        Assert.Equal("198.51.100.7", environ.Str("REMOTE_ADDR"));
        Assert.Equal("4000", environ.Str("REMOTE_PORT"));
        Assert.Contains("from 10.0.0.0/8, 127.0.0.0/8 (--trusted-proxy); the value 2 places from the right", server.Stdout);
    }

    [Fact]
    public async Task ForwardedHost_OnlyWhenNamed_SetsHttpHostAndServerName()
    {
        await using (var plain = await KwsgiProcess.StartAsync("envecho:app", "--workers", "1", "--trusted-proxy", "127.0.0.1"))
        {
            var environ = await HttpPlatformHostingTests.EnvironAsync(plain, "/", ("X-Forwarded-Host", "shop.example"));
            Assert.Equal("127.0.0.1", environ.Str("SERVER_NAME"));
        }
        await using var server = await KwsgiProcess.StartAsync("envecho:app", "--workers", "1", "--trusted-proxy", "127.0.0.1",
            "--trusted-proxy-headers", "x-forwarded-for x-forwarded-host");
        var forwarded = await HttpPlatformHostingTests.EnvironAsync(server, "/", ("X-Forwarded-Host", "shop.example"), ("X-Forwarded-Proto", "https"));
        Assert.Equal("shop.example", forwarded.Str("HTTP_HOST"));
        Assert.Equal("shop.example", forwarded.Str("SERVER_NAME"));
        Assert.Equal("http", forwarded.Str("wsgi.url_scheme")); // x-forwarded-proto was not named
    }

    [Fact]
    public async Task ProtoOtherThanHttpOrHttps_IsIgnored()
    {
        await using var server = await KwsgiProcess.StartAsync("envecho:app", "--workers", "1", "--trusted-proxy", "127.0.0.1");
        var environ = await HttpPlatformHostingTests.EnvironAsync(server, "/", ("X-Forwarded-Proto", "ftp"));
        Assert.Equal("http", environ.Str("wsgi.url_scheme"));
        var upper = await HttpPlatformHostingTests.EnvironAsync(server, "/", ("X-Forwarded-Proto", "HTTPS"));
        Assert.Equal("https", upper.Str("wsgi.url_scheme"));
    }

    [Theory]
    [InlineData("--trusted-proxy proxy.example", "proxy.example")]
    [InlineData("--trusted-proxy 10.0.0.0/33", "10.0.0.0/33")]
    [InlineData("--trusted-proxy 127.0.0.1 --trusted-proxy-headers forwarded", "forwarded")]
    [InlineData("--trusted-proxy 127.0.0.1 --trusted-proxy-headers x-real-ip", "x-real-ip")]
    [InlineData("--trusted-proxy 127.0.0.1 --trusted-proxy-count 0", "--trusted-proxy-count")]
    [InlineData("--trusted-proxy-count 2", "without --trusted-proxy")]
    [InlineData("--trusted-proxy-headers x-forwarded-for", "without --trusted-proxy")]
    public async Task BadProxyOptions_ExitCode2_WithOneLineOnStderr(string options, string mentioned)
    {
        string[] args = [.. options.Split(' '), "--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"];
        var exit = await KwsgiProcess.RunToExitAsync(args, TimeSpan.FromSeconds(30));
        Assert.True(exit.ExitCode == 2, exit.ToString());
        string[] lines = exit.Stderr.TrimEnd('\n').Split('\n');
        Assert.True(lines.Length == 1, exit.ToString());
        Assert.StartsWith("kwsgi: ", lines[0]);
        Assert.Contains(mentioned, lines[0]);
    }
}
