using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace Kestrel.Wsgi.Front.AccessLog;

/// <summary>
/// Counts the response body bytes the app and the static files write (the access log's <c>b</c>), by standing
/// in for Kestrel's response body feature; every call goes straight through.
/// </summary>
internal sealed class CountingResponseBody(IHttpResponseBodyFeature inner) : PipeWriter, IHttpResponseBodyFeature
{
    private Stream? _stream;

    public long Written { get; private set; }

    Stream IHttpResponseBodyFeature.Stream => _stream ??= AsStream(leaveOpen: true);

    PipeWriter IHttpResponseBodyFeature.Writer => this;

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        await inner.SendFileAsync(path, offset, count, cancellationToken).ConfigureAwait(false);
        Written += count ?? new FileInfo(path).Length - offset;
    }

    public Task CompleteAsync() => inner.CompleteAsync();

    public override void Advance(int bytes)
    {
        inner.Writer.Advance(bytes);
        Written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.Writer.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.Writer.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.Writer.FlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        Written += source.Length;
        return inner.Writer.WriteAsync(source, cancellationToken);
    }

    public override void CancelPendingFlush() => inner.Writer.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Writer.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.Writer.CompleteAsync(exception);

    public override bool CanGetUnflushedBytes => inner.Writer.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.Writer.UnflushedBytes;
}
