using System.Buffers;
using System.IO.Pipelines;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// A request body read whole before a worker is taken (<c>--buffer-request-body</c>), so a slow uploader holds
/// a connection, never a worker thread. A body of up to <see cref="MemoryLimit"/> bytes stays where it is, in
/// Kestrel's request pipe, unconsumed (no copy: the pump reads it from there); a larger one is spooled to a
/// temp file that has no name on disk, so nothing is left behind whatever happens to the request or the front.
/// </summary>
internal sealed class RequestBodyBuffer : IDisposable
{
    /// <summary>
    /// Bodies held in memory while they wait for a worker cost at most this each, so a full queue of them
    /// costs at most <c>--max-queue</c> × 64 KiB; it is also one body frame.
    /// </summary>
    public const int MemoryLimit = FlowWindow.MaxChunk;

    private readonly FileStream? _file;

    private RequestBodyBuffer(FileStream? file, long length)
    {
        _file = file;
        Length = length;
    }

    /// <summary>Body bytes, all of them arrived.</summary>
    public long Length { get; }

    /// <summary>True when the body is in a temp file; false when it waits, complete, in the request pipe.</summary>
    public bool Spooled => _file is not null;

    /// <summary>
    /// Reads <paramref name="body"/> to its end. Throws <see cref="Microsoft.AspNetCore.Http.BadHttpRequestException"/>
    /// when the body is bad or too slow (Kestrel) or longer than <paramref name="maxLength"/> (413), and what Kestrel
    /// throws when the client leaves.
    /// </summary>
    public static async Task<RequestBodyBuffer> ReadAsync(PipeReader body, string folder, long? maxLength, CancellationToken cancellationToken)
    {
        FileStream? file = null;
        long length = 0;
        List<ReadOnlyMemory<byte>>? segments = null; // only for bodies that go to a file
        try
        {
            while (true)
            {
                // No token: a read it cancels stays "in progress" in Kestrel, whose drain of the body then fails
                // (an error logged). A client that leaves ends the read anyway, as a canceled or failed read.
                ReadResult result = await RequestBodyReader.ReadAsync(body, CancellationToken.None).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                RequestBodyLimit.Check(length + buffer.Length, maxLength);
                if (file is null && buffer.Length <= MemoryLimit)
                {
                    // Examined but not consumed: the next read waits for more, and the pump later reads it all.
                    body.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        return new RequestBodyBuffer(null, buffer.Length);
                    }
                    continue;
                }
                if (file is null)
                {
                    file = CreateSpoolFile(folder);
                    Hosting.Metrics.KwsgiMetrics.BodiesSpooled.Add(1);
                }
                segments ??= [];
                segments.Clear();
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    segments.Add(segment);
                }
                long offset = length;
                length += buffer.Length; // now: the buffer is Kestrel's again after AdvanceTo
                try
                {
                    // One gathered write per read: Kestrel's blocks are small, a write per block would be a syscall each.
                    await RandomAccess.WriteAsync(file.SafeFileHandle, segments, offset, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    body.AdvanceTo(buffer.End); // even when cancelled: Kestrel's body reader must not stay mid-read
                }
                if (result.IsCompleted)
                {
                    return new RequestBodyBuffer(file, length);
                }
            }
        }
        catch
        {
            file?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A new file only this user can read (0600). On Unix its name is removed at once: the open handle keeps
    /// the data, and the space is freed when it closes, even if the front is killed. Windows deletes it on close.
    /// </summary>
    public static FileStream CreateSpoolFile(string folder)
    {
        string path = Path.Combine(folder, $"kwsgi-body-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            BufferSize = 0, // RandomAccess reads and writes the handle directly
        };
        if (OperatingSystem.IsWindows())
        {
            options.Options = FileOptions.DeleteOnClose;
        }
        else
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        var file = new FileStream(path, options);
        if (!OperatingSystem.IsWindows())
        {
            File.Delete(path);
        }
        return file;
    }

    /// <summary>Sends a spooled body to the worker in body frames, never more than the worker's credit ahead, then the end.</summary>
    public async Task SendAsync(Exchange exchange, CancellationToken cancellationToken)
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(FlowWindow.MaxChunk);
        try
        {
            for (long offset = 0; offset < Length;)
            {
                int want = (int)Math.Min(FlowWindow.MaxChunk, Length - offset);
                int read = await RandomAccess.ReadAsync(_file!.SafeFileHandle, chunk.AsMemory(0, want), offset, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException("the spooled request body is shorter than what was written");
                }
                await exchange.TakeRequestCreditAsync(read, cancellationToken).ConfigureAwait(false);
                await exchange.Connection.SendAsync(FrameType.RequestBody, FrameFlags.None, exchange.Id, chunk.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                offset += read;
            }
            await exchange.Connection.SendAsync(FrameType.RequestEnd, FrameFlags.None, exchange.Id, default, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    public void Dispose() => _file?.Dispose();
}
