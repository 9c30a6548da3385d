using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>Every <c>--listen</c> form (docs/https.md), parsed by <see cref="ListenAddress"/>.</summary>
public sealed class HttpsListenAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:8080", ListenScheme.Default, "127.0.0.1", 8080, "http://127.0.0.1:8080")]
    [InlineData("http://0.0.0.0:80", ListenScheme.Http, "0.0.0.0", 80, "http://0.0.0.0:80")]
    [InlineData("HTTPS://localhost:8443/", ListenScheme.Https, "localhost", 8443, "https://localhost:8443")]
    [InlineData("h2c://[::1]:8081", ListenScheme.H2c, "::1", 8081, "h2c://[::1]:8081")]
    [InlineData("*:8080", ListenScheme.Default, "*", 8080, "http://*:8080")]
    [InlineData(":8080", ListenScheme.Default, "*", 8080, "http://*:8080")]
    [InlineData("[::]:443", ListenScheme.Default, "::", 443, "http://[::]:443")]
    [InlineData("https://*:443", ListenScheme.Https, "*", 443, "https://*:443")]
    public void Parses(string value, ListenScheme scheme, string host, int port, string shownWithoutCertificate)
    {
        ListenAddress address = ListenAddress.Parse(value);
        Assert.Equal(new ListenAddress(scheme, host, port), address);
        Assert.Equal(shownWithoutCertificate, address.Display(hasCertificate: false));
    }

    [Fact]
    public void NoScheme_IsHttpsOnceThereIsACertificate_AnExplicitOneStays()
    {
        Assert.Equal(ListenScheme.Https, ListenAddress.Parse("*:8443").Resolve(hasCertificate: true));
        Assert.Equal(ListenScheme.Http, ListenAddress.Parse("http://*:8080").Resolve(hasCertificate: true));
        Assert.Equal(ListenScheme.H2c, ListenAddress.Parse("h2c://*:8081").Resolve(hasCertificate: true));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:http")]
    [InlineData("ftp://127.0.0.1:21")]
    [InlineData("example.com:80")]
    [InlineData("10.1:80")]
    [InlineData("::1:80")]
    [InlineData("[127.0.0.1]:80")]
    [InlineData("unix:")]
    [InlineData("fd://3")]
    public void Refuses(string value)
    {
        var refused = Assert.Throws<UsageException>(() => ListenAddress.Parse(value));
        Assert.StartsWith("--listen ", refused.Message);
    }

    [Fact]
    public void UnixPrefix_IsAUnixSocket_AsGunicornsBind()
    {
        ListenAddress socket = ListenAddress.Parse("unix:/tmp/kwsgi.sock");
        Assert.Equal("/tmp/kwsgi.sock", socket.UnixPath);
        Assert.Null(socket.Address);
        Assert.Equal("http://unix:/tmp/kwsgi.sock", socket.Display(hasCertificate: false));
    }
}
