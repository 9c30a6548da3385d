using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Kestrel.Wsgi.Front.HalfClose;

/// <summary>
/// The transport's output as Kestrel writes it. After a FIN, a write is how a client that closed for good is
/// found out (its kernel resets the connection); the transport then stops sending, and this says so to
/// <see cref="HalfCloseConnection"/>, so a response streaming to nobody stops.
/// </summary>
internal sealed class HalfCloseOutput(PipeWriter inner, HalfCloseConnection connection) : PipeWriter
{
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
        Watch(inner.FlushAsync(cancellationToken));

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
        Watch(inner.WriteAsync(source, cancellationToken));

    private ValueTask<FlushResult> Watch(ValueTask<FlushResult> flush)
    {
        if (!flush.IsCompletedSuccessfully)
        {
            return AwaitAsync(flush);
        }
        if (flush.Result.IsCompleted)
        {
            connection.Close();
        }
        return flush;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> AwaitAsync(ValueTask<FlushResult> flush)
    {
        FlushResult result;
        try
        {
            result = await flush.ConfigureAwait(false);
        }
        catch
        {
            connection.Close();
            throw;
        }
        if (result.IsCompleted)
        {
            connection.Close();
        }
        return result;
    }

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;
}
