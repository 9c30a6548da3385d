using System.CommandLine;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// The command-line options for request limits, slow clients and request body buffering (docs/limits.md):
/// names as gunicorn and waitress users know them, checked here, one sentence per mistake.
/// </summary>
internal static class LimitOptions
{
    private const int HeadLimit = KwsgiOptions.MaxHeadLimit;

    private static readonly KwsgiOptions s_defaults = KwsgiDefaults.Options;

    private static readonly OptionDefinition<long> s_maxRequestBodySize = new("--max-request-body-size",
        "Largest request body in bytes; past it, 413 (0: no limit)", () => s_defaults.MaxRequestBodySize ?? 0, shownDefault: "1073741824 (1 GiB)");
    private static readonly OptionDefinition<int> s_limitRequestLine = new("--limit-request-line",
        $"Largest request line (method, target, version) in bytes; past it, 414 (0: the most allowed, {HeadLimit})", () => s_defaults.LimitRequestLine);
    private static readonly OptionDefinition<int> s_limitRequestFields = new("--limit-request-fields",
        "Most header fields in a request; past it, 431 (0: the most allowed, 32768)", () => s_defaults.LimitRequestFields);
    private static readonly OptionDefinition<int> s_limitRequestFieldSize = new("--limit-request-field-size",
        "Largest single header field (name and value) in bytes; past it, 431", () => s_defaults.LimitRequestFieldSize ?? 0,
        shownDefault: "0: only --max-request-header-size applies", aliases: "--limit-request-field_size");
    private static readonly OptionDefinition<int> s_maxRequestHeaderSize = new("--max-request-header-size",
        "Largest request header block in bytes, all fields together; past it, 431", () => s_defaults.MaxRequestHeaderSize);
    private static readonly OptionDefinition<int> s_backlog = new("--backlog",
        "Connections the kernel queues before kwsgi accepts them (Linux caps it at net.core.somaxconn)", () => s_defaults.Backlog);
    private static readonly OptionDefinition<double> s_keepAlive = new("--keep-alive",
        "Seconds an idle keep-alive connection stays open", () => s_defaults.KeepAliveTimeout.TotalSeconds, aliases: "--channel-timeout");
    private static readonly OptionDefinition<double> s_requestHeadersTimeout = new("--request-headers-timeout",
        "Seconds a client may take to send a request's headers; then 408 and the connection closes", () => s_defaults.RequestHeadersTimeout.TotalSeconds);
    private static readonly OptionDefinition<double> s_minRequestBodyRate = new("--min-request-body-rate",
        "Slowest upload tolerated, in bytes per second after a 5-second grace; slower ones get 408 (0: off)", () => s_defaults.MinRequestBodyRate ?? 0);
    private static readonly OptionDefinition<double> s_minResponseRate = new("--min-response-rate",
        "Slowest download tolerated, in bytes per second after a 5-second grace; slower clients are disconnected (0: off)", () => s_defaults.MinResponseRate ?? 0);
    private static readonly OptionDefinition<bool> s_bufferRequestBody = new("--buffer-request-body",
        "Read the whole request body before a worker is taken: up to 64 KiB in memory, more in a temp file (false streams it to the worker as it arrives)",
        () => s_defaults.BufferRequestBody);
    private static readonly OptionDefinition<bool> s_noBufferRequestBody = new("--no-buffer-request-body",
        "The same as --buffer-request-body false");
    private static readonly OptionDefinition<string?> s_tmpDir = new("--tmp-dir",
        "Folder for request bodies and unread responses spooled to disk", shownDefault: "the system temp folder, TMPDIR");

    public static IEnumerable<Option> All =>
    [
        s_maxRequestBodySize, s_limitRequestLine, s_limitRequestFields, s_limitRequestFieldSize, s_maxRequestHeaderSize,
        s_backlog, s_keepAlive, s_requestHeadersTimeout, s_minRequestBodyRate, s_minResponseRate,
        s_bufferRequestBody, s_noBufferRequestBody, s_tmpDir,
    ];

    /// <summary><paramref name="options"/> with the limits the command line gives; throws <see cref="UsageException"/> for a bad value.</summary>
    public static KwsgiOptions Apply(ParseResult parsed, KwsgiOptions options)
    {
        long maxBody = parsed.GetValue(s_maxRequestBodySize);
        if (maxBody < 0)
        {
            throw new UsageException($"--max-request-body-size {maxBody} must not be negative (0: no limit)");
        }
        // 0 means "as much as allowed", as gunicorn's "unlimited" does; Kestrel needs a finite head buffer.
        int line = HeadSize(parsed, s_limitRequestLine, orZero: HeadLimit);
        int fields = parsed.GetValue(s_limitRequestFields);
        if (fields is < 0 or > 32768)
        {
            throw new UsageException($"--limit-request-fields {fields} must be between 0 and 32768");
        }
        int fieldSize = HeadSize(parsed, s_limitRequestFieldSize, orZero: 0);
        int headerSize = HeadSize(parsed, s_maxRequestHeaderSize, orZero: null);
        int backlog = parsed.GetValue(s_backlog);
        if (backlog is < 1 or > 65535)
        {
            throw new UsageException($"--backlog {backlog} must be between 1 and 65535");
        }
        bool buffer = parsed.GetValue(s_bufferRequestBody);
        if (parsed.GetValue(s_noBufferRequestBody))
        {
            if (parsed.GetResult(s_bufferRequestBody) is { Implicit: false } && buffer)
            {
                throw new UsageException("--buffer-request-body and --no-buffer-request-body contradict each other");
            }
            buffer = false;
        }
        double? minBodyRate = Rate(parsed, s_minRequestBodyRate);
        double? minResponseRate = Rate(parsed, s_minResponseRate);
        return options with
        {
            MaxRequestBodySize = maxBody == 0 ? null : maxBody,
            LimitRequestLine = line,
            LimitRequestFields = fields == 0 ? 32768 : fields,
            LimitRequestFieldSize = fieldSize == 0 ? null : fieldSize,
            MaxRequestHeaderSize = headerSize,
            Backlog = backlog,
            KeepAliveTimeout = Seconds(parsed, s_keepAlive),
            RequestHeadersTimeout = Seconds(parsed, s_requestHeadersTimeout),
            MinRequestBodyRate = minBodyRate,
            MinResponseRate = minResponseRate,
            BufferRequestBody = buffer,
            TmpDir = parsed.GetValue(s_tmpDir),
        };
    }

    /// <summary>A request-head size: 1 to the head ceiling, with what 0 stands for (null: 0 is refused).</summary>
    private static int HeadSize(ParseResult parsed, Option<int> option, int? orZero)
    {
        int value = parsed.GetValue(option);
        if (value == 0 && orZero is int meaning)
        {
            return meaning;
        }
        if (value < 1 || value > HeadLimit)
        {
            throw new UsageException($"{option.Name} {value} must be between {(orZero is null ? 1 : 0)} and {HeadLimit}");
        }
        return value;
    }

    private static TimeSpan Seconds(ParseResult parsed, Option<double> option)
    {
        double value = parsed.GetValue(option);
        // Kestrel checks its timeouts once a second, so less than that would not be honoured.
        if (!(value >= 1 && value <= 24 * 3600))
        {
            throw new UsageException($"{option.Name} {value} must be between 1 and 86400 seconds");
        }
        return TimeSpan.FromSeconds(value);
    }

    private static double? Rate(ParseResult parsed, Option<double> option)
    {
        double value = parsed.GetValue(option);
        if (!(value >= 0) || double.IsInfinity(value))
        {
            throw new UsageException($"{option.Name} {value} must be a number of bytes per second, 0 or more (0: off)");
        }
        return value == 0 ? null : value;
    }
}
