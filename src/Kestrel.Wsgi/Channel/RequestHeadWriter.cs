using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// Encodes a request head frame: the request's CGI/WSGI environ strings, already named and valued as PEP 3333
/// wants them, so the worker only splits them into a dict. Layout: a u16 pair count (LE), then latin-1
/// <c>key NUL value NUL …</c>, with PATH_INFO as the last value (it may contain a decoded NUL itself).
/// </summary>
internal static class RequestHeadWriter
{
    /// <summary>Writes the head for <paramref name="context"/>; <paramref name="pathInfo"/> is the percent-decoded path below the prefix.</summary>
    /// <param name="decodedBodyLength">
    /// The length of a body the request did not declare (chunked, or HTTP/2 without content-length), when the
    /// front has read it whole: it becomes CONTENT_LENGTH and Transfer-Encoding is left out, as waitress does,
    /// because most apps read exactly CONTENT_LENGTH bytes and would otherwise see an empty body.
    /// </param>
    public static void Write(ArrayBufferWriter<byte> output, HttpContext context, string scriptName, ReadOnlySpan<byte> pathInfo, string rawTarget, string queryString, long? decodedBodyLength = null)
    {
        HttpRequest request = context.Request;
        ConnectionInfo connection = context.Connection;
        Span<byte> count = output.GetSpan(2);
        output.Advance(2);
        int pairs = 0;

        Pair(output, "REQUEST_METHOD", request.Method, ref pairs);
        Pair(output, "SCRIPT_NAME", scriptName, ref pairs);
        Pair(output, "QUERY_STRING", queryString, ref pairs);
        Pair(output, "REQUEST_URI", rawTarget, ref pairs);
        Pair(output, "SERVER_PROTOCOL", request.Protocol, ref pairs);
        Pair(output, "wsgi.url_scheme", request.Scheme, ref pairs);
        if (request.IsHttps)
        {
            Pair(output, "HTTPS", "on", ref pairs); // CGI's flag, read by apps that predate wsgi.url_scheme
        }
        if (connection.ClientCertificate is { } certificate)
        {
            // mod_ssl's name and form; behind ANCM the certificate comes from MS-ASPNETCORE-CLIENTCERT.
            Pair(output, "SSL_CLIENT_CERT", certificate.ExportCertificatePem(), ref pairs);
        }
        Pair(output, "REMOTE_ADDR", FormatAddress(connection.RemoteIpAddress), ref pairs);
        Pair(output, "REMOTE_PORT", connection.RemotePort.ToString(System.Globalization.CultureInfo.InvariantCulture), ref pairs);
        // PEP 3333: SERVER_NAME/SERVER_PORT are the server's; URL reconstruction prefers HTTP_HOST anyway.
        string serverName = request.Host.HasValue ? request.Host.Host : FormatAddress(connection.LocalIpAddress);
        Pair(output, "SERVER_NAME", serverName.StartsWith('[') ? serverName.Trim('[', ']') : serverName, ref pairs);
        Pair(output, "SERVER_PORT", connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture), ref pairs);
        // The id the access log and the worker's output are tagged with (docs/observability.md).
        Pair(output, "kwsgi.request_id", context.TraceIdentifier, ref pairs);
        if (decodedBodyLength is long bodyLength)
        {
            Pair(output, "CONTENT_LENGTH", bodyLength.ToString(System.Globalization.CultureInfo.InvariantCulture), ref pairs);
        }

        foreach (KeyValuePair<string, StringValues> header in request.Headers)
        {
            string name = header.Key;
            // Names with '_' would collide with '-' once mapped (PEP 3333 / CGI); pseudo-headers are not headers.
            if (name.Contains('_') || name.StartsWith(':'))
            {
                continue;
            }
            if (decodedBodyLength is not null && name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                continue; // the app gets the decoded body with its length, not the chunks
            }
            bool isContentType = name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase);
            bool isContentLength = !isContentType && name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase);
            if (isContentType || isContentLength)
            {
                Text(output, isContentType ? "CONTENT_TYPE" : "CONTENT_LENGTH");
            }
            else
            {
                HeaderKey(output, name);
            }
            Nul(output);
            Values(output, header.Value, name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ",");
            Nul(output);
            pairs++;
        }

        Text(output, "PATH_INFO");
        Nul(output);
        output.Write(pathInfo);
        pairs++;

        count[0] = (byte)pairs;
        count[1] = (byte)(pairs >> 8);
    }

    private static string FormatAddress(IPAddress? address)
    {
        if (address is null)
        {
            return "";
        }
        return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }

    private static void Pair(ArrayBufferWriter<byte> output, string key, string value, ref int pairs)
    {
        Text(output, key);
        Nul(output);
        Text(output, value);
        Nul(output);
        pairs++;
    }

    private static void Nul(ArrayBufferWriter<byte> output)
    {
        output.GetSpan(1)[0] = 0;
        output.Advance(1);
    }

    /// <summary>Writes a string whose chars are all below 256 (Kestrel decodes headers as latin-1) byte for byte.</summary>
    private static void Text(ArrayBufferWriter<byte> output, string value)
    {
        Span<byte> span = output.GetSpan(value.Length);
        int written = System.Text.Encoding.Latin1.GetBytes(value, span);
        output.Advance(written);
    }

    /// <summary>HTTP_ + the name upper-cased with '-' as '_' (CGI, RFC 3875 4.1.18).</summary>
    private static void HeaderKey(ArrayBufferWriter<byte> output, string name)
    {
        Span<byte> span = output.GetSpan(5 + name.Length);
        "HTTP_"u8.CopyTo(span);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            span[5 + i] = c == '-' ? (byte)'_' : (byte)char.ToUpperInvariant(c);
        }
        output.Advance(5 + name.Length);
    }

    /// <summary>Repeated headers joined into one value (RFC 9110 5.3); cookies with "; " (RFC 9113 8.2.3).</summary>
    private static void Values(ArrayBufferWriter<byte> output, StringValues values, string separator)
    {
        for (int i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                Text(output, separator);
            }
            Text(output, values[i] ?? "");
        }
    }
}
