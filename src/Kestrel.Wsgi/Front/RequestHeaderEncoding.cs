using System.Text;
using Microsoft.Net.Http.Headers;

namespace Kestrel.Wsgi.Front;

/// <summary>Kestrel's <c>RequestHeaderEncodingSelector</c> for kwsgi.</summary>
internal static class RequestHeaderEncoding
{
    /// <summary>PEP 3333: header bytes are latin-1; Content-Length is held to 1*DIGIT (<see cref="ContentLengthEncoding"/>).</summary>
    public static Encoding Select(string headerName) =>
        string.Equals(headerName, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) ? ContentLengthEncoding.Instance : Encoding.Latin1;
}
