using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace Kestrel.Wsgi.Front.HalfClose;

/// <summary>
/// Lets a client shut down its sending side after its request (<c>shutdown(SHUT_WR)</c>, <c>nc -N</c>, some proxies)
/// and still get the response, as waitress and gunicorn do; RFC 9112 9.6: a FIN ends what the client sends, not
/// what it reads. Kestrel's socket transport takes the FIN for a closed connection and aborts the response
/// (dotnet/aspnetcore#13188). This connection middleware gives Kestrel a ConnectionClosed token of its own that
/// the FIN does not fire: the end of the input reaches Kestrel as the end of the request stream instead
/// (<see cref="HalfCloseInput"/>), and the token fires when a read fails or a write finds the connection gone
/// (<see cref="HalfCloseOutput"/>). A FIN and a full close look alike until then, so a client that closed for
/// good is noticed at the response's first writes, not while the app runs.
/// </summary>
internal sealed class HalfCloseConnection
{
    private readonly CancellationTokenSource _closed = new();

    /// <summary>For <c>ListenOptions.Use</c>: runs the rest of the connection's pipeline over the half-close aware transport.</summary>
    public static ConnectionDelegate Use(ConnectionDelegate next) => async connection =>
    {
        IDuplexPipe transport = connection.Transport;
        CancellationToken transportClosed = connection.ConnectionClosed;
        var halfClose = new HalfCloseConnection();
        connection.Transport = new DuplexPipe(new HalfCloseInput(transport.Input, halfClose), new HalfCloseOutput(transport.Output, halfClose));
        connection.ConnectionClosed = halfClose._closed.Token;
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            connection.Transport = transport;
            connection.ConnectionClosed = transportClosed;
            halfClose._closed.Dispose();
        }
    };

    /// <summary>The connection is gone both ways: what the transport's own token would have said.</summary>
    public void Close()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection's pipeline has already ended.
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
