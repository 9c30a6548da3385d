using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Kestrel.Wsgi.Front.HalfClose;

/// <summary>
/// The transport's input as Kestrel reads it. Its end is shown only once Kestrel has examined every byte
/// before it: Kestrel aborts the response when a body read sees the end, even when the body arrived whole with
/// the FIN. A read that fails (a reset) closes the connection, as the transport's token would have.
/// </summary>
internal sealed class HalfCloseInput(PipeReader inner, HalfCloseConnection connection) : PipeReader
{
    private SequencePosition _hiddenEnd;  // the end of a buffer shown without its completion
    private bool _hidden;                 // the last read hid the completion
    private bool _examinedAll;            // Kestrel examined all of that buffer: the next read shows the end
    private bool _endShown;               // Kestrel was shown the end of the input

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ValueTask<ReadResult> read;
        try
        {
            read = inner.ReadAsync(cancellationToken);
        }
        catch (InvalidOperationException) when (_endShown)
        {
            // Kestrel's body reader throws at an unexpected end of the body without advancing the read, and its
            // request loop then reads again: the input is over, so say that rather than "already reading".
            return new ValueTask<ReadResult>(new ReadResult(default, isCanceled: false, isCompleted: true));
        }
        catch (Exception ex) when (ex is not InvalidOperationException)
        {
            connection.Close();
            throw;
        }
        return read.IsCompletedSuccessfully ? new ValueTask<ReadResult>(Present(read.Result)) : AwaitAsync(read);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> AwaitAsync(ValueTask<ReadResult> read)
    {
        try
        {
            return Present(await read.ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is not InvalidOperationException)
        {
            connection.Close();
            throw;
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }
        result = Present(result);
        return true;
    }

    /// <summary>The read as Kestrel gets it: completed only when there is nothing left it has not looked at.</summary>
    private ReadResult Present(ReadResult result)
    {
        if (!result.IsCompleted || result.Buffer.IsEmpty || _examinedAll)
        {
            _hidden = false;
            _endShown |= result.IsCompleted;
            return result;
        }
        _hidden = true;
        _hiddenEnd = result.Buffer.End;
        return new ReadResult(result.Buffer, result.IsCanceled, isCompleted: false);
    }

    public override void AdvanceTo(SequencePosition consumed)
    {
        _examinedAll = _hidden && consumed.Equals(_hiddenEnd);
        inner.AdvanceTo(consumed);
    }

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        _examinedAll = _hidden && examined.Equals(_hiddenEnd);
        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
}
