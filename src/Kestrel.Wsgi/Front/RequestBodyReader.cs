using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// Reads of Kestrel's request body with one name for a malformed body. Kestrel throws
/// <see cref="BadHttpRequestException"/> for most, but a chunk size past 64 bits comes as a plain
/// <see cref="IOException"/> (its chunk parser wraps the OverflowException), which looks like a client that
/// left; taken for one, the request went on with an empty body and answered 200.
/// </summary>
internal static class RequestBodyReader
{
    public static ValueTask<ReadResult> ReadAsync(PipeReader body, CancellationToken cancellationToken)
    {
        ValueTask<ReadResult> read = body.ReadAsync(cancellationToken);
        return read.IsCompletedSuccessfully ? read : AwaitAsync(read);
    }

    private static async ValueTask<ReadResult> AwaitAsync(ValueTask<ReadResult> read)
    {
        try
        {
            return await read.ConfigureAwait(false);
        }
        catch (IOException ex) when (ex is not ConnectionResetException and not BadHttpRequestException)
        {
            // A client that left resets the connection or cancels the read; any other fault is the body's (RFC 9112 7.1).
            throw new BadHttpRequestException("The request body is malformed.", StatusCodes.Status400BadRequest, ex);
        }
    }
}
