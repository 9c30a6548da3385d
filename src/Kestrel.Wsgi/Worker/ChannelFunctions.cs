using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kestrel.Wsgi.Channel;
using Python.Runtime;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// The builtins kwsgi_worker.py calls to talk to the channel. Each is a native fast-call function: the
/// Python thread calling it holds the GIL, and releases it only while it waits (for a request, a body
/// piece or response credit), so the other Python threads run meanwhile.
/// </summary>
internal static unsafe class ChannelFunctions
{
    private static WorkerChannel s_channel = null!;
    private static nint s_clientDisconnected;

    /// <summary>Creates the builtins and stores them as attributes of <paramref name="module"/> (a pythonnet object; GIL held).</summary>
    public static void Install(PyObject module, WorkerChannel channel)
    {
        s_channel = channel;
        using PyObject disconnected = module.GetAttr("ClientDisconnected");
#pragma warning disable CS0612 // Handle is the raw object pointer the native functions need; no replacement is public.
        s_clientDisconnected = disconnected.Handle;
#pragma warning restore CS0612
        CPython.Py_IncRef(s_clientDisconnected);

        CPython.InstallFunction(module, "_next", &Next);
        CPython.InstallFunction(module, "_read", &Read);
        CPython.InstallFunction(module, "_start", &Start);
        CPython.InstallFunction(module, "_send", &Send);
        CPython.InstallFunction(module, "_finish", &Finish);
        CPython.InstallFunction(module, "_abort", &Abort);
        CPython.InstallFunction(module, "_sendfile", &SendFile);
    }

    /// <summary><c>_next()</c> → <c>(id, head, no_body)</c> for the next request, or None when the worker stops.</summary>
    [UnmanagedCallersOnly]
    private static nint Next(nint self, nint* args, nint nargs)
    {
        try
        {
            WorkerRequest? request = s_channel.NextRequest();
            if (request is null)
            {
                return CPython.NewNone();
            }
            nint tuple = CPython.PyTuple_New(3);
            CPython.PyTuple_SetItem(tuple, 0, CPython.PyLong_FromUnsignedLongLong(request.Id));
            CPython.PyTuple_SetItem(tuple, 1, CPython.NewBytes(request.Head));
            CPython.PyTuple_SetItem(tuple, 2, CPython.PyLong_FromUnsignedLongLong(request.HasNoBody ? 1UL : 0UL));
            return tuple;
        }
        catch (Exception ex)
        {
            CPython.SetError(CPython.RuntimeError, "kwsgi: " + ex.Message);
            return 0;
        }
    }

    /// <summary><c>_read(id)</c> → the next piece of the request body; <c>b""</c> at its end.</summary>
    [UnmanagedCallersOnly]
    private static nint Read(nint self, nint* args, nint nargs)
    {
        try
        {
            if (!TryGetRequest(args, nargs, 1, out WorkerRequest? request))
            {
                return 0;
            }
            byte[] piece = s_channel.NextBody(request);
            if (piece.Length == 0 && request.Cancelled)
            {
                CPython.SetError(s_clientDisconnected, "the client disconnected before the request body was complete");
                return 0;
            }
            // Acknowledge consumed bytes in batches, so the front may send more (flow control). The first read
            // also opens the window from one frame to its full size: the app has started on the body.
            request.Unacknowledged += piece.Length;
            if (!request.BodyWindowOpen && piece.Length > 0)
            {
                request.BodyWindowOpen = true;
                s_channel.SendCredit(FrameType.RequestCredit, request.Id, FlowWindow.Size - FlowWindow.InitialRequestWindow + request.Unacknowledged);
                request.Unacknowledged = 0;
            }
            else if (request.Unacknowledged >= FlowWindow.AckThreshold)
            {
                s_channel.SendCredit(FrameType.RequestCredit, request.Id, request.Unacknowledged);
                request.Unacknowledged = 0;
            }
            return CPython.NewBytes(piece);
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    /// <summary><c>_start(id, head)</c>: sends the response head (status and headers) before the first body piece.</summary>
    [UnmanagedCallersOnly]
    private static nint Start(nint self, nint* args, nint nargs)
    {
        try
        {
            if (!TryGetRequest(args, nargs, 2, out WorkerRequest? request) || !CPython.TryGetBytes(args[1], out ReadOnlySpan<byte> head))
            {
                return 0;
            }
            s_channel.Send(FrameType.ResponseHead, FrameFlags.None, request.Id, head);
            return CPython.NewNone();
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    /// <summary><c>_send(id, data)</c>: sends body bytes, waiting (without the GIL) while the client is behind.</summary>
    [UnmanagedCallersOnly]
    private static nint Send(nint self, nint* args, nint nargs)
    {
        try
        {
            if (!TryGetRequest(args, nargs, 2, out WorkerRequest? request) || !CPython.TryGetBytes(args[1], out ReadOnlySpan<byte> data))
            {
                return 0;
            }
            return SendBody(request, data) == 0 ? 0 : CPython.NewNone();
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    /// <summary>
    /// <c>_finish(id, head, body)</c>: ends the response. <c>head</c> is None when already sent; <c>body</c> is
    /// None or the last bytes. A small response travels as one write.
    /// </summary>
    [UnmanagedCallersOnly]
    private static nint Finish(nint self, nint* args, nint nargs)
    {
        try
        {
            if (!TryGetRequest(args, nargs, 3, out WorkerRequest? request))
            {
                return 0;
            }
            bool hasHead = args[1] != CPython.None;
            bool hasBody = args[2] != CPython.None;
            ReadOnlySpan<byte> head = default, body = default;
            if ((hasHead && !CPython.TryGetBytes(args[1], out head)) || (hasBody && !CPython.TryGetBytes(args[2], out body)))
            {
                return 0;
            }
            try
            {
                if (hasBody && body.Length > FlowWindow.MaxChunk)
                {
                    // Large last pieces go through the credit-checked path, the end marker after them.
                    if (hasHead)
                    {
                        s_channel.Send(FrameType.ResponseHead, FrameFlags.None, request.Id, head);
                    }
                    nint sent = SendBody(request, body);
                    if (sent == 0)
                    {
                        return 0;
                    }
                    s_channel.Send(FrameType.ResponseBody, FrameFlags.End, request.Id, default);
                }
                else if (hasHead && hasBody)
                {
                    s_channel.SendHeadAndBody(request.Id, head, body, end: true);
                }
                else if (hasHead)
                {
                    s_channel.Send(FrameType.ResponseHead, FrameFlags.End, request.Id, head);
                }
                else
                {
                    s_channel.Send(FrameType.ResponseBody, FrameFlags.End, request.Id, body);
                }
            }
            finally
            {
                s_channel.Complete(request);
            }
            return CPython.NewNone();
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    private static nint SendBody(WorkerRequest request, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            ReadOnlySpan<byte> piece = data.Length > FlowWindow.MaxChunk ? data[..FlowWindow.MaxChunk] : data;
            if (!s_channel.ReserveCredit(request, piece.Length))
            {
                CPython.SetError(s_clientDisconnected, "the client disconnected");
                return 0;
            }
            s_channel.Send(FrameType.ResponseBody, FrameFlags.None, request.Id, piece);
            data = data[piece.Length..];
        }
        return 1;
    }

    /// <summary>
    /// <c>_sendfile(id, head, path, offset, length)</c> → True when the front sends that file range itself;
    /// False when it cannot open the file (the caller then streams the bytes). <c>head</c> is sent first.
    /// </summary>
    [UnmanagedCallersOnly]
    private static nint SendFile(nint self, nint* args, nint nargs)
    {
        try
        {
            if (!TryGetRequest(args, nargs, 5, out WorkerRequest? request)
                || !CPython.TryGetBytes(args[1], out ReadOnlySpan<byte> head)
                || !CPython.TryGetBytes(args[2], out ReadOnlySpan<byte> path))
            {
                return 0;
            }
            long offset = CPython.PyLong_AsLong(args[3]);
            long length = CPython.PyLong_AsLong(args[4]);
            if (CPython.PyErr_Occurred() != 0)
            {
                return 0;
            }
            byte[] reference = new byte[16 + path.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(reference, offset);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(reference.AsSpan(8), length);
            path.CopyTo(reference.AsSpan(16));
            s_channel.Send(FrameType.ResponseHead, FrameFlags.None, request.Id, head);
            s_channel.Send(FrameType.ResponseFile, FrameFlags.None, request.Id, reference);

            bool opened = s_channel.WaitFileOpened(request);
            if (request.Cancelled)
            {
                CPython.SetError(s_clientDisconnected, "the client disconnected");
                return 0;
            }
            return CPython.NewBool(opened);
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    /// <summary><c>_abort(id)</c>: the app failed after the head went out; the front drops the connection.</summary>
    [UnmanagedCallersOnly]
    private static nint Abort(nint self, nint* args, nint nargs)
    {
        try
        {
            if (!TryGetRequest(args, nargs, 1, out WorkerRequest? request))
            {
                return 0;
            }
            try
            {
                s_channel.Send(FrameType.ResponseAbort, FrameFlags.None, request.Id, default);
            }
            finally
            {
                s_channel.Complete(request);
            }
            return CPython.NewNone();
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    private static bool TryGetRequest(nint* args, nint nargs, int expected, [NotNullWhen(true)] out WorkerRequest? request)
    {
        request = null;
        if (nargs != expected)
        {
            CPython.SetError(CPython.TypeError, $"expected {expected} arguments");
            return false;
        }
        long id = CPython.PyLong_AsLong(args[0]);
        if (id == -1 && CPython.PyErr_Occurred() != 0)
        {
            return false;
        }
        request = s_channel.Find((uint)id);
        if (request is null)
        {
            CPython.SetError(s_clientDisconnected, "the request is no longer active");
            return false;
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint Fail(Exception ex)
    {
        CPython.SetError(ex is System.Net.Sockets.SocketException or IOException ? s_clientDisconnected : CPython.RuntimeError, "kwsgi: " + ex.Message);
        return 0;
    }
}
