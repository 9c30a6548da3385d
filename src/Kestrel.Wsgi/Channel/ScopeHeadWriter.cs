using System.Buffers;
using System.Net;
using Kestrel.Wsgi.Front;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// Encodes an ASGI worker's request head (<see cref="FrameType.ScopeHead"/>): what the worker needs for an ASGI
/// connection scope, raw, so it builds the scope with one split. Layout: a u16 header count (LE), then
/// NUL-separated bytes — scope type, method, scheme, http_version, root_path (UTF-8), raw_path, query_string,
/// client host, client port, server host, server port, flags (<c>t</c>: trailers can be sent), request id — then
/// each header as lower-case name NUL value (repeated headers as separate entries, in order), then the
/// percent-decoded path last (it may hold a decoded NUL; the split limit keeps it whole).
/// </summary>
internal static class ScopeHeadWriter
{
    /// <param name="rootPath">The mount point (<c>--url-prefix</c> or the IIS application path): ASGI's root_path, WSGI's SCRIPT_NAME.</param>
    /// <param name="path">The percent-decoded path below <paramref name="rootPath"/>.</param>
    public static void Write(ArrayBufferWriter<byte> output, string scopeType, HttpContext context, string rootPath, ReadOnlySpan<byte> path, string rawTarget, string queryString)
    {
        HttpRequest request = context.Request;
        ConnectionInfo connection = context.Connection;
        Span<byte> count = output.GetSpan(2);
        output.Advance(2);

        Field(output, scopeType);
        Field(output, request.Method);
        Field(output, request.Scheme);
        Field(output, HttpVersion(request.Protocol));
        Utf8Field(output, rootPath);
        Field(output, RequestTarget.PathOf(rawTarget, out _));
        Field(output, queryString);
        if (connection.RemoteIpAddress is { } remote)
        {
            Field(output, FormatAddress(remote));
            Field(output, connection.RemotePort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            Field(output, "");
            Field(output, "");
        }
        if (connection.LocalIpAddress is { } local)
        {
            Field(output, FormatAddress(local));
            Field(output, connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            Field(output, "");
            Field(output, "");
        }
        Field(output, context.Response.SupportsTrailers() ? "t" : "");
        Field(output, context.TraceIdentifier);

        int headers = 0;
        foreach (KeyValuePair<string, StringValues> header in request.Headers)
        {
            string name = header.Key;
            if (name.StartsWith(':'))
            {
                continue; // HTTP/2 pseudo-headers are the scope's method, scheme and path
            }
            StringValues values = header.Value;
            for (int i = 0; i < values.Count; i++)
            {
                LowerName(output, name);
                Field(output, values[i] ?? "");
                headers++;
            }
        }

        output.Write(path);
        count[0] = (byte)headers;
        count[1] = (byte)(headers >> 8);
    }

    /// <summary>ASGI's http_version: "1.0", "1.1", "2" or "3".</summary>
    private static string HttpVersion(string protocol) => protocol switch
    {
        "HTTP/1.1" => "1.1",
        "HTTP/2" => "2",
        "HTTP/1.0" => "1.0",
        "HTTP/3" => "3",
        _ => protocol.StartsWith("HTTP/", StringComparison.Ordinal) ? protocol[5..] : protocol,
    };

    private static string FormatAddress(IPAddress address) =>
        (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    /// <summary>Text whose chars are below 256 (Kestrel decodes the target and headers as latin-1) byte for byte, then NUL.</summary>
    private static void Field(ArrayBufferWriter<byte> output, ReadOnlySpan<char> value)
    {
        Span<byte> span = output.GetSpan(value.Length * 3 + 1);
        int written = 0;
        foreach (char c in value)
        {
            if (c < 0x100)
            {
                span[written++] = (byte)c;
            }
            else
            {
                written += System.Text.Encoding.UTF8.GetBytes([c], span[written..]);
            }
        }
        span[written] = 0;
        output.Advance(written + 1);
    }

    private static void Utf8Field(ArrayBufferWriter<byte> output, string value)
    {
        Span<byte> span = output.GetSpan(System.Text.Encoding.UTF8.GetMaxByteCount(value.Length) + 1);
        int written = System.Text.Encoding.UTF8.GetBytes(value, span);
        span[written] = 0;
        output.Advance(written + 1);
    }

    /// <summary>ASGI: header names are lower-cased.</summary>
    private static void LowerName(ArrayBufferWriter<byte> output, string name)
    {
        Span<byte> span = output.GetSpan(name.Length + 1);
        for (int i = 0; i < name.Length; i++)
        {
            span[i] = (byte)char.ToLowerInvariant(name[i]);
        }
        span[name.Length] = 0;
        output.Advance(name.Length + 1);
    }
}
