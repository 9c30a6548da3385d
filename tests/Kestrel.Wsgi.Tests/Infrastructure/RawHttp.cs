using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>A response read byte by byte off a raw socket.</summary>
public sealed class RawResponse
{
    public required string StatusLine { get; init; }
    public required int Status { get; init; }
    public required List<KeyValuePair<string, string>> Headers { get; init; }
    public required byte[] Body { get; init; }

    /// <summary>True when the body ended as the framing said (last chunk / Content-Length reached / clean close).</summary>
    public required bool Complete { get; init; }

    public bool Chunked => Header("Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true;

    public string? Header(string name) =>
        Headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

    public string BodyText => Encoding.Latin1.GetString(Body);

    public override string ToString() =>
        StatusLine + "\n" + string.Join("\n", Headers.Select(h => $"{h.Key}: {h.Value}")) + "\n\n" +
        (BodyText.Length > 2000 ? BodyText[..2000] + "…" : BodyText);
}

/// <summary>
/// An HTTP/1.1 client connection over a raw socket, for tests that need byte-level control
/// (repeated headers, latin-1 bytes, chunked bodies, HEAD, aborted responses).
/// </summary>
public sealed class RawHttpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private byte[] _buf = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _eof;

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private RawHttpConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<RawHttpConnection> ConnectAsync(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await s.ConnectAsync(IPAddress.Loopback, port);
        return new RawHttpConnection(s);
    }

    public int LocalPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// <summary>True when the peer has closed (or reset) the connection and everything was read.</summary>
    public bool AtEof => _eof && _start == _end;

    public Task SendAsync(string latin1) => SendAsync(Encoding.Latin1.GetBytes(latin1));

    public async Task SendAsync(byte[] data)
    {
        await _stream.WriteAsync(data);
        await _stream.FlushAsync();
    }

    /// <summary>Reads more bytes into the buffer; false at EOF (or connection reset).</summary>
    private async Task<bool> FillAsync(CancellationToken ct)
    {
        if (_eof)
        {
            return false;
        }
        if (_start > 0 && _start == _end)
        {
            _start = _end = 0;
        }
        if (_end == _buf.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buf, _buf.Length * 2);
            }
        }
        int n;
        try
        {
            n = await _stream.ReadAsync(_buf.AsMemory(_end), ct);
        }
        catch (IOException) when (!ct.IsCancellationRequested)
        {
            n = 0;
        }
        catch (SocketException)
        {
            n = 0;
        }
        if (n == 0)
        {
            _eof = true;
            return false;
        }
        _end += n;
        return true;
    }

    private int IndexOf(ReadOnlySpan<byte> needle) => _buf.AsSpan(_start, _end - _start).IndexOf(needle);

    private async Task<string?> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            int i = IndexOf("\r\n"u8);
            if (i >= 0)
            {
                string line = Encoding.Latin1.GetString(_buf, _start, i);
                _start += i + 2;
                return line;
            }
            if (!await FillAsync(ct))
            {
                return null;
            }
        }
    }

    private async Task<byte[]?> ReadExactlyAsync(int count, CancellationToken ct)
    {
        while (_end - _start < count)
        {
            if (!await FillAsync(ct))
            {
                return null;
            }
        }
        byte[] r = _buf.AsSpan(_start, count).ToArray();
        _start += count;
        return r;
    }

    /// <summary>Reads one response. <paramref name="head"/>: the request was HEAD (no body follows).</summary>
    public async Task<RawResponse> ReadResponseAsync(bool head = false, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await ReadResponseCoreAsync(head, cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no complete response within {(timeout ?? DefaultTimeout).TotalSeconds:0} s; buffered: " +
                Encoding.Latin1.GetString(_buf, _start, Math.Min(_end - _start, 2000)));
        }
    }

    private async Task<RawResponse> ReadResponseCoreAsync(bool head, CancellationToken ct)
    {
        string? statusLine = await ReadLineAsync(ct) ?? throw new IOException("connection closed before a status line");
        string[] parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/", StringComparison.Ordinal) || !int.TryParse(parts[1], out int status))
        {
            throw new IOException($"bad status line: {statusLine}");
        }
        var headers = new List<KeyValuePair<string, string>>();
        while (true)
        {
            string? line = await ReadLineAsync(ct) ?? throw new IOException("connection closed inside the response head");
            if (line.Length == 0)
            {
                break;
            }
            int colon = line.IndexOf(':');
            headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }
        string? te = headers.Where(h => h.Key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();
        string? cl = headers.Where(h => h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

        if (head || status is >= 100 and < 200 or 204 or 304)
        {
            return new RawResponse { StatusLine = statusLine, Status = status, Headers = headers, Body = [], Complete = true };
        }
        if (te is not null && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var body = new MemoryStream();
            while (true)
            {
                string? sizeLine = await ReadLineAsync(ct);
                if (sizeLine is null)
                {
                    return Incomplete();
                }
                int semi = sizeLine.IndexOf(';');
                int size = Convert.ToInt32((semi >= 0 ? sizeLine[..semi] : sizeLine).Trim(), 16);
                if (size == 0)
                {
                    // trailers, then the empty line
                    while (true)
                    {
                        string? t = await ReadLineAsync(ct);
                        if (t is null)
                        {
                            return Incomplete();
                        }
                        if (t.Length == 0)
                        {
                            break;
                        }
                    }
                    return new RawResponse { StatusLine = statusLine, Status = status, Headers = headers, Body = body.ToArray(), Complete = true };
                }
                byte[]? data = await ReadExactlyAsync(size, ct);
                if (data is null)
                {
                    // keep what arrived
                    body.Write(_buf, _start, _end - _start);
                    _start = _end;
                    return Incomplete();
                }
                body.Write(data);
                if (await ReadLineAsync(ct) is not "")
                {
                    return Incomplete();
                }
            }

            RawResponse Incomplete() => new() { StatusLine = statusLine, Status = status, Headers = headers, Body = body.ToArray(), Complete = false };
        }
        if (cl is not null)
        {
            int length = int.Parse(cl);
            byte[]? data = await ReadExactlyAsync(length, ct);
            if (data is null)
            {
                byte[] partial = _buf.AsSpan(_start, _end - _start).ToArray();
                _start = _end;
                return new RawResponse { StatusLine = statusLine, Status = status, Headers = headers, Body = partial, Complete = false };
            }
            return new RawResponse { StatusLine = statusLine, Status = status, Headers = headers, Body = data, Complete = true };
        }
        // Read to close.
        while (await FillAsync(ct))
        {
        }
        byte[] rest = _buf.AsSpan(_start, _end - _start).ToArray();
        _start = _end;
        return new RawResponse { StatusLine = statusLine, Status = status, Headers = headers, Body = rest, Complete = true };
    }

    /// <summary>Waits <paramref name="wait"/>, then returns the bytes that arrived unasked (empty: none; the connection stays usable).</summary>
    public async Task<byte[]> PeekExtraBytesAsync(TimeSpan wait)
    {
        await Task.Delay(wait);
        int available = _socket.Available;
        if (available > 0)
        {
            await FillAsync(CancellationToken.None);
        }
        return _buf.AsSpan(_start, _end - _start).ToArray();
    }

    /// <summary>Sends one request and reads its response.</summary>
    public async Task<RawResponse> RequestAsync(string latin1Request, bool head = false, TimeSpan? timeout = null)
    {
        await SendAsync(latin1Request);
        return await ReadResponseAsync(head, timeout);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        await _stream.DisposeAsync();
    }
}
