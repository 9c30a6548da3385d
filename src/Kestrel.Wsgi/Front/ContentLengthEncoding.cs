using System.Text;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// How Kestrel decodes a request's Content-Length when a header encoding is chosen (kwsgi chooses latin-1,
/// PEP 3333). Kestrel then decodes the value into 20 chars and parses it with <c>long.TryParse</c>, which takes
/// a sign and spaces (<c>+5</c> and <c>-0</c> pass) and throws ArgumentException, logged with its stack trace
/// and the connection dropped, for a value longer than 20 bytes. RFC 9110 8.6 allows 1*DIGIT only: anything
/// else decodes to a char no number contains, so Kestrel answers 400 itself, before the request exists.
/// </summary>
internal sealed class ContentLengthEncoding : Encoding
{
    public static readonly ContentLengthEncoding Instance = new();

    /// <summary>Digits in long.MaxValue; Kestrel's buffer holds one more.</summary>
    private const int MaxDigits = 19;

    private ContentLengthEncoding() : base(Latin1.CodePage)
    {
    }

    /// <summary>Kestrel's parse: the digits as they are, or one 'x' for a value that is not 1 to 19 digits.</summary>
    public override int GetChars(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        if (bytes.Length is 0 or > MaxDigits || bytes.ContainsAnyExceptInRange((byte)'0', (byte)'9') || chars.Length < bytes.Length)
        {
            if (chars.IsEmpty)
            {
                return 0;
            }
            chars[0] = 'x';
            return 1;
        }
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = (char)bytes[i];
        }
        return bytes.Length;
    }

    // The rest is latin-1 with controls shown as '?': Kestrel decodes a refused value again (GetString) for its
    // error message, and refuses a string holding NUL there with an exception of its own.
    public override int GetCharCount(byte[] bytes, int index, int count) => count;

    public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex)
    {
        for (int i = 0; i < byteCount; i++)
        {
            byte b = bytes[byteIndex + i];
            chars[charIndex + i] = b < 0x20 || b == 0x7f ? '?' : (char)b;
        }
        return byteCount;
    }

    public override int GetByteCount(char[] chars, int index, int count) => Latin1.GetByteCount(chars, index, count);

    public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex) =>
        Latin1.GetBytes(chars, charIndex, charCount, bytes, byteIndex);

    public override int GetMaxByteCount(int charCount) => Latin1.GetMaxByteCount(charCount);

    public override int GetMaxCharCount(int byteCount) => byteCount;
}
