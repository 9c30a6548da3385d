namespace Kestrel.Wsgi.Channel;

/// <summary>
/// Reads a response head frame: latin-1 <c>status NUL name NUL value NUL …</c>, as kwsgi_worker.py encodes
/// what the app passed to start_response (already checked there).
/// </summary>
internal readonly ref struct ResponseHead
{
    private readonly ReadOnlySpan<byte> _fields;

    public ResponseHead(ReadOnlySpan<byte> payload)
    {
        int end = payload.IndexOf((byte)0);
        ReadOnlySpan<byte> status = end < 0 ? payload : payload[..end];
        _fields = end < 0 ? default : payload[(end + 1)..];
        if (status.Length < 3 || !TryParseCode(status[..3], out int code))
        {
            throw new InvalidDataException("The worker sent a response head without a status code.");
        }
        StatusCode = code;
        ReasonPhrase = status.Length > 4 ? System.Text.Encoding.Latin1.GetString(status[4..]) : "";
    }

    public int StatusCode { get; }

    public string ReasonPhrase { get; }

    public Enumerator GetEnumerator() => new(_fields);

    private static bool TryParseCode(ReadOnlySpan<byte> digits, out int code)
    {
        code = 0;
        foreach (byte b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
            code = code * 10 + (b - '0');
        }
        return true;
    }

    /// <summary>Yields (name, value) pairs; also reads a trailers frame, which is the same pairs without a status.</summary>
    public ref struct Enumerator(ReadOnlySpan<byte> fields)
    {
        public readonly Enumerator GetEnumerator() => this;

        private ReadOnlySpan<byte> _rest = fields;

        public (string Name, string Value) Current { get; private set; }

        public bool MoveNext()
        {
            if (_rest.IsEmpty)
            {
                return false;
            }
            int nameEnd = _rest.IndexOf((byte)0);
            if (nameEnd < 0)
            {
                throw new InvalidDataException("The worker sent a header name without a value.");
            }
            ReadOnlySpan<byte> name = _rest[..nameEnd];
            _rest = _rest[(nameEnd + 1)..];
            int valueEnd = _rest.IndexOf((byte)0);
            ReadOnlySpan<byte> value = valueEnd < 0 ? _rest : _rest[..valueEnd];
            _rest = valueEnd < 0 ? default : _rest[(valueEnd + 1)..];
            Current = (System.Text.Encoding.Latin1.GetString(name), System.Text.Encoding.Latin1.GetString(value));
            return true;
        }
    }
}
