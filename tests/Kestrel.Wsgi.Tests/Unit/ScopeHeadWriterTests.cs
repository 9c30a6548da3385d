using System.Buffers;
using System.Net;
using System.Text;
using Kestrel.Wsgi.Channel;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>The ASGI scope head's exact layout (docs/asgi.md), as kwsgi_asgi.py splits it.</summary>
public class ScopeHeadWriterTests
{
    private static DefaultHttpContext Context()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "PUT";
        context.Request.Scheme = "https";
        context.Request.Protocol = "HTTP/2";
        context.Request.Headers.Append("Host", "example.test");
        context.Request.Headers.Append("X-Dup", "one");
        context.Request.Headers.Append("X-Dup", "two");
        context.Connection.RemoteIpAddress = IPAddress.Parse("::ffff:10.1.2.3");
        context.Connection.RemotePort = 5555;
        context.Connection.LocalIpAddress = IPAddress.IPv6Loopback;
        context.Connection.LocalPort = 8443;
        context.TraceIdentifier = "req-1";
        return context;
    }

    [Fact]
    public void FieldsInOrder_HeadersLowerCasedAndRepeated_DecodedPathLastWithItsNul()
    {
        var output = new ArrayBufferWriter<byte>();
        byte[] path = Encoding.UTF8.GetBytes("/a/b\0é");
        ScopeHeadWriter.Write(output, "http", Context(), "/root", path, "/root/a%2Fb%00%C3%A9?q", "q=%20");
        ReadOnlySpan<byte> payload = output.WrittenSpan;
        int count = payload[0] | (payload[1] << 8);
        Assert.Equal(3, count);

        // As the worker does: split with a limit, so the path keeps its NUL.
        string[] fields = Encoding.Latin1.GetString(payload[2..]).Split('\0', 13 + 2 * count + 1);
        Assert.Equal(["http", "PUT", "https", "2", "/root", "/root/a%2Fb%00%C3%A9", "q=%20", "10.1.2.3", "5555", "::1", "8443", "", "req-1"], fields[..13]);
        Assert.Equal(["host", "example.test", "x-dup", "one", "x-dup", "two"], fields[13..^1]);
        Assert.Equal(Encoding.Latin1.GetString(path), fields[^1]);
    }

    [Fact]
    public void UnknownAddresses_AreEmptyFields()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Scheme = "http";
        context.Request.Protocol = "HTTP/1.1";
        context.TraceIdentifier = "";
        var output = new ArrayBufferWriter<byte>();
        ScopeHeadWriter.Write(output, "http", context, "", "/"u8, "/", "");
        string[] fields = Encoding.Latin1.GetString(output.WrittenSpan[2..]).Split('\0');
        Assert.Equal(["http", "GET", "http", "1.1", "", "/", "", "", "", "", "", "", "", "/"], fields);
    }
}
