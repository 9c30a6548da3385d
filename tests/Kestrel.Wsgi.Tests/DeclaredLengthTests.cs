using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class DeclaredLengthFixture : ServerFixture
{
    protected override string App => "declared:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "1"];
}

/// <summary>
/// An iterable body under a declared Content-Length (how Flask and Django answer): exactly the declared bytes
/// go out, framed by the length, and nothing past it is asked of the app (PEP 3333: the server must not send
/// more than Content-Length).
/// </summary>
public sealed class DeclaredLengthTests(DeclaredLengthFixture fx) : IClassFixture<DeclaredLengthFixture>
{
    [Fact]
    public async Task WholeBodyInTheFirstPiece_IsSent_AndTheIterableIsNotReadPastIt()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        string before = (await conn.RequestAsync($"GET /state HTTP/1.1\r\nHost: x\r\n\r\n")).BodyText;

        RawResponse whole = await conn.RequestAsync("GET /whole HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, whole.Status);
        Assert.Equal("10", whole.Header("Content-Length"));
        Assert.False(whole.Chunked);
        Assert.Equal("0123456789", whole.BodyText);

        // Same connection: the response was framed exactly, and the app's iterable was closed after one piece.
        RawResponse state = await conn.RequestAsync("GET /state HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(Counts(before, pulled: 1, closed: 1), state.BodyText);
    }

    [Fact]
    public async Task DeclaredBodyInTwoPieces_ArrivesWhole()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        RawResponse split = await conn.RequestAsync("GET /split HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, split.Status);
        Assert.Equal("10", split.Header("Content-Length"));
        Assert.Equal("0123456789", split.BodyText);
        RawResponse again = await conn.RequestAsync("GET /split HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("0123456789", again.BodyText);
    }

    [Fact]
    public async Task Head_KeepsTheDeclaredLength_AndSendsNoBody()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        RawResponse head = await conn.RequestAsync("HEAD /whole HTTP/1.1\r\nHost: x\r\n\r\n", head: true);
        Assert.Equal(200, head.Status);
        Assert.Equal("10", head.Header("Content-Length"));
        Assert.Empty(head.Body);
        RawResponse next = await conn.RequestAsync("GET /split HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("0123456789", next.BodyText);
    }

    private static string Counts(string before, int pulled, int closed)
    {
        // before is "pulled=P closed=C" from earlier tests in this class sharing the worker
        string[] parts = before.Split(' ');
        int p = int.Parse(parts[0]["pulled=".Length..]) + pulled;
        int c = int.Parse(parts[1]["closed=".Length..]) + closed;
        return $"pulled={p} closed={c}";
    }
}
