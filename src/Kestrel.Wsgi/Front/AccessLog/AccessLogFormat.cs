using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Front.AccessLog;

/// <summary>
/// An access-log line format: gunicorn's <c>%(h)s</c>-style atoms (docs/observability.md lists them), or
/// <c>json</c>, one object per line with OpenTelemetry's attribute names. Parsed once at start-up; lines are
/// formatted on the writer's thread, never the request's.
/// </summary>
internal sealed class AccessLogFormat
{
    /// <summary>Apache's combined format, as gunicorn writes it (its default access_log_format).</summary>
    public const string Combined = "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"";

    public const string Json = "json";

    private static readonly string s_pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    private readonly Segment[] _segments;

    private AccessLogFormat(Segment[] segments, string[] requestHeaders, string[] responseHeaders, bool isJson)
    {
        _segments = segments;
        RequestHeaders = requestHeaders;
        ResponseHeaders = responseHeaders;
        IsJson = isJson;
        NeedsAuthorization = isJson || segments.Any(s => s.Atom == 'u');
        NeedsRequestId = isJson || segments.Any(s => s.Atom == 'R');
    }

    public bool IsJson { get; }

    /// <summary>Request headers the format names with <c>{name}i</c>, each captured once per request.</summary>
    public string[] RequestHeaders { get; }

    /// <summary>Response headers the format names with <c>{name}o</c>.</summary>
    public string[] ResponseHeaders { get; }

    public bool NeedsAuthorization { get; }

    public bool NeedsRequestId { get; }

    private readonly record struct Segment(string? Literal, char Atom, int Index, string? Variable);

    /// <summary>Parses <c>--access-log-format</c>; throws <see cref="UsageException"/> naming what is wrong.</summary>
    public static AccessLogFormat Parse(string? format)
    {
        format ??= Combined;
        if (format.Equals(Json, StringComparison.OrdinalIgnoreCase))
        {
            return new AccessLogFormat([], [], [], isJson: true);
        }
        var segments = new List<Segment>();
        var requestHeaders = new List<string>();
        var responseHeaders = new List<string>();
        var literal = new StringBuilder();
        int i = 0;
        while (i < format.Length)
        {
            char c = format[i];
            if (c != '%')
            {
                literal.Append(c);
                i++;
                continue;
            }
            if (i + 1 < format.Length && format[i + 1] == '%')
            {
                literal.Append('%');
                i += 2;
                continue;
            }
            // %(name)s, as Python's %-formatting with a dict (gunicorn's access_log_format).
            int close = format.IndexOf(')', i);
            if (i + 1 >= format.Length || format[i + 1] != '(' || close < 0 || close + 1 >= format.Length || format[close + 1] is not ('s' or 'd'))
            {
                throw new UsageException($"--access-log-format: '%' at position {i + 1} must start an atom like %(h)s (or be written %%)");
            }
            string name = format[(i + 2)..close];
            i = close + 2;
            if (literal.Length > 0)
            {
                segments.Add(new Segment(literal.ToString(), '\0', 0, null));
                literal.Clear();
            }
            segments.Add(ParseAtom(name, requestHeaders, responseHeaders));
        }
        if (literal.Length > 0)
        {
            segments.Add(new Segment(literal.ToString(), '\0', 0, null));
        }
        return new AccessLogFormat([.. segments], [.. requestHeaders], [.. responseHeaders], isJson: false);
    }

    private static Segment ParseAtom(string name, List<string> requestHeaders, List<string> responseHeaders)
    {
        if (name.Length > 3 && name[0] == '{' && name[^2] == '}')
        {
            string variable = name[1..^2];
            switch (name[^1])
            {
                case 'i':
                    requestHeaders.Add(variable);
                    return new Segment(null, 'i', requestHeaders.Count - 1, variable);
                case 'o':
                    responseHeaders.Add(variable);
                    return new Segment(null, 'o', responseHeaders.Count - 1, variable);
                case 'e':
                    return new Segment(Environment.GetEnvironmentVariable(variable) ?? "-", '\0', 0, null);
            }
        }
        // gunicorn's atoms, plus R: the request id kwsgi tags the request's log lines with.
        if (name.Length == 1 && "hlutrmUqHsBbfaTMDLpR".Contains(name[0], StringComparison.Ordinal))
        {
            return new Segment(null, name[0], 0, null);
        }
        throw new UsageException($"--access-log-format: unknown atom %({name})s (see docs/observability.md for the list)");
    }

    /// <summary>Appends one line (with its newline) for <paramref name="entry"/>.</summary>
    public void Write(AccessLogEntry entry, StringBuilder line)
    {
        if (IsJson)
        {
            WriteJson(entry, line);
            return;
        }
        foreach (Segment segment in _segments)
        {
            if (segment.Literal is not null)
            {
                line.Append(segment.Literal);
                continue;
            }
            switch (segment.Atom)
            {
                case 'h': line.Append(AddressText(entry.ClientAddress) ?? "-"); break;
                case 'l': line.Append('-'); break;
                case 'u': AppendEscaped(line, BasicUser(entry.Authorization)); break;
                case 't': line.Append(CommonLogTime(entry.Start)); break;
                case 'r': AppendEscaped(line, entry.Method); line.Append(' '); AppendEscaped(line, entry.RawTarget); line.Append(' '); AppendEscaped(line, entry.Protocol); break;
                case 'm': AppendEscaped(line, entry.Method); break;
                case 'U': AppendEscaped(line, PathOf(entry.RawTarget)); break;
                case 'q': AppendEscaped(line, QueryOf(entry.RawTarget)); break;
                case 'H': AppendEscaped(line, entry.Protocol); break;
                case 's': line.Append(entry.Status); break;
                case 'B': line.Append(entry.BodyBytes); break;
                case 'b': if (entry.BodyBytes == 0) { line.Append('-'); } else { line.Append(entry.BodyBytes); } break;
                case 'f': AppendEscaped(line, entry.Referer); break;
                case 'a': AppendEscaped(line, entry.UserAgent); break;
                case 'T': line.Append(entry.ElapsedTicks / Stopwatch.Frequency); break;
                case 'M': line.Append(entry.ElapsedTicks * 1000 / Stopwatch.Frequency); break;
                case 'D': line.Append(entry.ElapsedTicks * 1_000_000 / Stopwatch.Frequency); break;
                case 'L': line.Append(((double)entry.ElapsedTicks / Stopwatch.Frequency).ToString("0.000000", CultureInfo.InvariantCulture)); break;
                case 'p': line.Append('<').Append(s_pid).Append('>'); break;
                case 'R': AppendEscaped(line, entry.RequestId); break;
                case 'i': AppendEscaped(line, entry.RequestHeaders?[segment.Index]); break;
                case 'o': AppendEscaped(line, entry.ResponseHeaders?[segment.Index]); break;
            }
        }
        line.Append('\n');
    }

    [ThreadStatic]
    private static (long Second, string Text) t_time;

    [ThreadStatic]
    private static (IPAddress? Address, string? Text) t_address;

    /// <summary>The client's address as text, remembered for the next line (usually the same few clients, or one proxy).</summary>
    private static string? AddressText(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }
        if (!address.Equals(t_address.Address))
        {
            t_address = (address, address.ToString());
        }
        return t_address.Text;
    }

    /// <summary><c>[06/Dec/2026:02:49:51 +0000]</c> in local time; made once a second (only the writer's thread calls it).</summary>
    private static string CommonLogTime(DateTimeOffset start)
    {
        long second = start.UtcTicks / TimeSpan.TicksPerSecond;
        if (t_time.Second != second || t_time.Text is null)
        {
            DateTimeOffset local = start.ToLocalTime();
            t_time = (second, local.ToString("[dd/MMM/yyyy:HH:mm:ss ", CultureInfo.InvariantCulture) + Offset(local) + "]");
        }
        return t_time.Text;
    }

    private static string Offset(DateTimeOffset time)
    {
        TimeSpan offset = time.Offset;
        return (offset < TimeSpan.Zero ? "-" : "+") + offset.ToString("hhmm", CultureInfo.InvariantCulture);
    }

    private static string PathOf(string target)
    {
        int q = target.IndexOf('?');
        return q < 0 ? target : target[..q];
    }

    private static string QueryOf(string target)
    {
        int q = target.IndexOf('?');
        return q < 0 ? "" : target[(q + 1)..];
    }

    /// <summary>The user name of a Basic Authorization header (gunicorn's <c>u</c>); null otherwise.</summary>
    private static string? BasicUser(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        try
        {
            string decoded = Encoding.Latin1.GetString(Convert.FromBase64String(authorization[6..].Trim()));
            int colon = decoded.IndexOf(':');
            return colon < 0 ? null : decoded[..colon];
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Apache's escaping of logged request data: quote, backslash, control and non-ASCII characters as
    /// <c>\"</c>, <c>\\</c>, <c>\xhh</c>, so a client cannot forge a line or break the quoting. Empty is "-".
    /// </summary>
    private static void AppendEscaped(StringBuilder line, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            line.Append('-');
            return;
        }
        foreach (char c in value)
        {
            if (c is '"' or '\\')
            {
                line.Append('\\').Append(c);
            }
            else if (c < 0x20 || c >= 0x7f)
            {
                // Header text is latin-1 (PEP 3333), so every char is one byte; anything wider is written as its low byte's pair.
                if (c > 0xff)
                {
                    line.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                }
                else
                {
                    line.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                }
            }
            else
            {
                line.Append(c);
            }
        }
    }

    private static readonly JsonWriterOptions s_jsonOptions = new() { Encoder = JavaScriptEncoder.Default, SkipValidation = true };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_json;

    [ThreadStatic]
    private static Utf8JsonWriter? t_jsonWriter;

    /// <summary>One JSON object with OpenTelemetry's semantic-convention names (HTTP server spans and metrics).</summary>
    private static void WriteJson(AccessLogEntry entry, StringBuilder line)
    {
        ArrayBufferWriter<byte> buffer = t_json ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        Utf8JsonWriter json = t_jsonWriter ??= new Utf8JsonWriter(buffer, s_jsonOptions);
        json.Reset(buffer);
        {
            json.WriteStartObject();
            json.WriteString("timestamp", entry.Start.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            json.WriteString("http.request.method", entry.Method);
            json.WriteString("url.path", PathOf(entry.RawTarget));
            string query = QueryOf(entry.RawTarget);
            if (query.Length > 0)
            {
                json.WriteString("url.query", query);
            }
            json.WriteString("url.scheme", entry.Scheme);
            json.WriteString("network.protocol.name", "http");
            json.WriteString("network.protocol.version", entry.Protocol.StartsWith("HTTP/", StringComparison.Ordinal) ? entry.Protocol[5..] : entry.Protocol);
            if (entry.Host is not null)
            {
                var host = new Microsoft.AspNetCore.Http.HostString(entry.Host);
                json.WriteString("server.address", host.Host);
                if (host.Port is int serverPort)
                {
                    json.WriteNumber("server.port", serverPort);
                }
            }
            json.WriteNumber("http.response.status_code", entry.Status);
            json.WriteNumber("http.response.body.size", entry.BodyBytes);
            json.WriteString("client.address", AddressText(entry.ClientAddress));
            json.WriteNumber("client.port", entry.ClientPort);
            if (entry.UserAgent is not null)
            {
                json.WriteString("user_agent.original", entry.UserAgent);
            }
            if (entry.Referer is not null)
            {
                json.WriteString("http.request.header.referer", entry.Referer);
            }
            if (BasicUser(entry.Authorization) is string user)
            {
                json.WriteString("user.name", user);
            }
            json.WriteNumber("http.server.request.duration", Math.Round((double)entry.ElapsedTicks / Stopwatch.Frequency, 6));
            if (entry.RequestId is not null)
            {
                json.WriteString("http.request.id", entry.RequestId);
            }
            json.WriteEndObject();
            json.Flush();
        }
        line.Append(Encoding.UTF8.GetString(buffer.WrittenSpan)).Append('\n');
    }
}
