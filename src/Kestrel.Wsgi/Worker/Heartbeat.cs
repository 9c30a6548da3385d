using System.Buffers.Binary;
using Kestrel.Wsgi.Channel;
using Python.Runtime;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// The worker's heartbeat: once a second a plain .NET thread sends the front a <see cref="FrameType.Pong"/>
/// carrying how long a second thread, the GIL probe, has been waiting for the GIL. The sender never needs the
/// GIL and never reads the channel, so the beat goes on while every Python thread is busy in the app (nobody
/// reads then: leader/follower) and while one of them holds the GIL in a C call that never lets go — which is
/// exactly what the probe's growing wait reports. The front decides what is too long (--heartbeat-timeout).
/// </summary>
internal sealed class Heartbeat
{
    private static readonly TimeSpan s_interval = TimeSpan.FromSeconds(1);

    private readonly IFrameSender _channel;
    private long _probeWaitingSince; // Environment.TickCount64 while the probe waits for the GIL; 0 otherwise

    private Heartbeat(IFrameSender channel) => _channel = channel;

    /// <summary>Starts both threads; call once the initializing thread has let go of the GIL.</summary>
    public static void Start(IFrameSender channel)
    {
        var heartbeat = new Heartbeat(channel);
        new Thread(heartbeat.Probe) { Name = "kwsgi GIL probe", IsBackground = true }.Start();
        new Thread(heartbeat.Beat) { Name = "kwsgi heartbeat", IsBackground = true }.Start();
    }

    /// <summary>Attached once (like the request threads); takes the GIL for an instant every second.</summary>
    private unsafe void Probe()
    {
        using (Py.GIL())
        {
            while (true)
            {
                nint state = CPython.PyEval_SaveThread();
                Thread.Sleep(s_interval);
                Volatile.Write(ref _probeWaitingSince, Environment.TickCount64);
                CPython.PyEval_RestoreThread(state);
                Volatile.Write(ref _probeWaitingSince, 0);
            }
        }
    }

    private void Beat()
    {
        Span<byte> payload = stackalloc byte[4];
        while (true)
        {
            Thread.Sleep(s_interval);
            long since = Volatile.Read(ref _probeWaitingSince);
            long waited = since == 0 ? 0 : Math.Max(0, Environment.TickCount64 - since);
            BinaryPrimitives.WriteInt32LittleEndian(payload, (int)Math.Min(waited, int.MaxValue));
            try
            {
                _channel.Send(FrameType.Pong, FrameFlags.None, 0, payload);
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or ObjectDisposedException)
            {
                return; // the front is gone; the channel's readers and the parent watch end the process
            }
        }
    }
}
