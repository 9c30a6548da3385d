using System.IO.Pipelines;
using Microsoft.Win32.SafeHandles;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// Copies a file range into a response: read straight into the response pipe's own buffers, so the bytes are
/// copied once (page cache to send buffer). Kestrel has no sendfile(2), and its SendFileAsync copies twice.
/// </summary>
internal static class FileBody
{
    // Large pieces: few reads, few socket writes. The pipe rents them from the shared array pool.
    private const int Piece = 256 * 1024;

    /// <summary>Sends up to <paramref name="count"/> bytes from <paramref name="offset"/>; returns how many were sent (fewer if the file shrank or the client left).</summary>
    public static async Task<long> CopyAsync(PipeWriter body, SafeFileHandle file, long offset, long count, CancellationToken aborted)
    {
        long sent = 0;
        while (sent < count)
        {
            Memory<byte> buffer = body.GetMemory((int)Math.Min(Piece, count - sent));
            int wanted = (int)Math.Min(buffer.Length, count - sent);
            // A synchronous read: from the page cache it does not block, and .NET would run an "async" one on the thread pool anyway.
            int read = RandomAccess.Read(file, buffer.Span[..wanted], offset + sent);
            if (read == 0)
            {
                break;
            }
            body.Advance(read);
            sent += read;
            FlushResult flushed = await body.FlushAsync(aborted).ConfigureAwait(false);
            if (flushed.IsCanceled || flushed.IsCompleted)
            {
                break;
            }
        }
        return sent;
    }
}
