namespace Kestrel.Wsgi.Channel;

/// <summary>
/// One request in flight on a worker, as the front sees it: the response parts the channel reader hands
/// over, and the request-body credit the worker has granted. Reused by its <see cref="WorkerConnection"/> for
/// later requests (<see cref="Reset"/>): frames that arrive for the request it served before carry that
/// request's id and are dropped.
/// </summary>
internal sealed class Exchange(WorkerConnection connection)
{
    private readonly ResponseQueue _parts = new();
    private readonly SemaphoreSlim _creditSignal = new(0);
    private int _requestCredit;

    /// <summary>The request's stream id on the channel.</summary>
    public uint Id { get; private set; }

    /// <summary>The channel of the worker that runs the request.</summary>
    public WorkerConnection Connection { get; } = connection;

    /// <summary>When the request runs past <c>--timeout</c> (Environment.TickCount64); long.MaxValue without one.</summary>
    public long Deadline { get; private set; } = long.MaxValue;

    /// <summary>Makes this exchange the state of a new request.</summary>
    /// <param name="requestWindow">Bytes the front may send before the worker's first credit.</param>
    public void Reset(uint id, long deadline, int requestWindow)
    {
        while (_creditSignal.CurrentCount > 0)
        {
            _creditSignal.Wait(0);
        }
        Volatile.Write(ref _requestCredit, requestWindow);
        Deadline = deadline;
        Answered = false;
        Id = id;
        _parts.Reset(id);
    }

    /// <summary>The worker sent the response's last frame: the request is no longer the worker's to finish.</summary>
    public bool Answered
    {
        get => Volatile.Read(ref _answered);
        set => Volatile.Write(ref _answered, value);
    }

    private bool _answered; // written by the channel reader, read by the supervisor's watch

    public ResponseQueue Parts => _parts;

    /// <summary>Hands a part to the request's handler; parts posted after the request ended are recycled here.</summary>
    public void Post(ResponsePart part) => Post(Id, part);

    /// <summary>The channel reader's post, for the request with stream id <paramref name="id"/> (dropped if that request is over).</summary>
    /// <remarks>
    /// A file part is not the last: when the front cannot open the file, the worker streams its bytes after it,
    /// and either way the worker ends the response with a frame of its own.
    /// </remarks>
    public void Post(uint id, ResponsePart part) =>
        _parts.Post(id, part, last: part.Kind switch
        {
            ResponsePartKind.Head or ResponsePartKind.Body or ResponsePartKind.File => part.End,
            // A WebSocket message's End ends the message, not the conversation.
            ResponsePartKind.WebSocketAccept or ResponsePartKind.WebSocketText or ResponsePartKind.WebSocketBinary => false,
            _ => true,
        });

    public void AddRequestCredit(uint id, int bytes)
    {
        if (id != Id)
        {
            return; // credit for the request this exchange served before
        }
        Interlocked.Add(ref _requestCredit, bytes);
        _creditSignal.Release();
    }

    /// <summary>Waits until the worker has room for <paramref name="bytes"/> more body bytes, then takes them.</summary>
    public async ValueTask TakeRequestCreditAsync(int bytes, CancellationToken cancellationToken)
    {
        while (Volatile.Read(ref _requestCredit) < bytes)
        {
            await _creditSignal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        Interlocked.Add(ref _requestCredit, -bytes);
    }

    /// <summary>Tells the worker the client is gone, so the app's next read or write fails and it stops early.</summary>
    public void CancelOnWorker()
    {
        _ = CancelAsync();

        async Task CancelAsync()
        {
            try
            {
                await Connection.SendAsync(FrameType.Cancel, FrameFlags.None, Id, default).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The worker is gone too.
            }
        }
    }

    /// <summary>Tells the worker the WebSocket's client closed it with <paramref name="code"/> (1006: it vanished); the app's receive() answers websocket.disconnect.</summary>
    public void DisconnectOnWorker(int code, string? reason)
    {
        _ = DisconnectAsync(WebSocketClosePayload.Encode(code, reason));

        async Task DisconnectAsync(byte[] payload)
        {
            try
            {
                await Connection.SendAsync(FrameType.WebSocketDisconnect, FrameFlags.None, Id, payload).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The worker is gone too.
            }
        }
    }

    /// <summary>The request is over on the front: drop whatever the worker still sends for it.</summary>
    public void Close() => _parts.Close();
}
