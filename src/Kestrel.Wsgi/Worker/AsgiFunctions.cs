using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kestrel.Wsgi.Channel;
using Python.Runtime;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// The builtins kwsgi_asgi.py's event loop calls to talk to the channel: native fast-call functions, called on the
/// loop's thread with the GIL held, that never wait (the loop does the waiting, on the socket's readiness).
/// </summary>
internal static unsafe class AsgiFunctions
{
    private static AsgiChannel s_channel = null!;
    private static Action<string?> s_started = null!;
    private static Action s_frontGone = null!;

    /// <param name="started">Called once by the loop: null when the app is ready (lifespan startup done), else why it is not.</param>
    /// <param name="frontGone">Called when the channel closes under the loop.</param>
    public static void Install(PyObject module, AsgiChannel channel, Action<string?> started, Action frontGone)
    {
        s_channel = channel;
        s_started = started;
        s_frontGone = frontGone;
        CPython.InstallFunction(module, "_receive", &Receive);
        CPython.InstallFunction(module, "_frame", &Frame);
        CPython.InstallFunction(module, "_flush", &Flush);
        CPython.InstallFunction(module, "_fd", &FileDescriptor);
        CPython.InstallFunction(module, "_started", &Started);
    }

    /// <summary>
    /// <c>_receive()</c> → a list of <c>(type, flags, id, payload)</c>, every complete frame the socket holds (empty when
    /// it held only part of one). A closed channel ends the process: the front has gone.
    /// </summary>
    [UnmanagedCallersOnly]
    private static nint Receive(nint self, nint* args, nint nargs)
    {
        try
        {
            if (!s_channel.Fill())
            {
                s_frontGone();
            }
            nint list = CPython.PyList_New(0);
            while (s_channel.TryNextFrame(out FrameHeader header, out ReadOnlySpan<byte> payload))
            {
                nint frame = CPython.PyTuple_New(4);
                CPython.PyTuple_SetItem(frame, 0, CPython.PyLong_FromUnsignedLongLong((ulong)header.Type));
                CPython.PyTuple_SetItem(frame, 1, CPython.PyLong_FromUnsignedLongLong((ulong)header.Flags));
                CPython.PyTuple_SetItem(frame, 2, CPython.PyLong_FromUnsignedLongLong(header.StreamId));
                CPython.PyTuple_SetItem(frame, 3, CPython.NewBytes(payload));
                CPython.PyList_Append(list, frame);
                CPython.Py_DecRef(frame);
            }
            return list;
        }
        catch (InvalidDataException)
        {
            s_frontGone(); // a broken frame: the channel is unusable, as if the front had gone
            return 0;
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    /// <summary><c>_frame(type, flags, id, payload)</c>: appends a frame to the outgoing buffer (payload: bytes or None).</summary>
    [UnmanagedCallersOnly]
    private static nint Frame(nint self, nint* args, nint nargs)
    {
        try
        {
            if (nargs != 4)
            {
                CPython.SetError(CPython.TypeError, "expected 4 arguments");
                return 0;
            }
            long type = CPython.PyLong_AsLong(args[0]);
            long flags = CPython.PyLong_AsLong(args[1]);
            long id = CPython.PyLong_AsLong(args[2]);
            if (CPython.PyErr_Occurred() != 0)
            {
                return 0;
            }
            ReadOnlySpan<byte> payload = default;
            if (args[3] != CPython.None && !CPython.TryGetBytes(args[3], out payload))
            {
                return 0;
            }
            s_channel.Append((FrameType)type, (FrameFlags)flags, (uint)id, payload);
            return CPython.NewNone();
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    /// <summary><c>_flush()</c> → True when everything appended has been sent, False when the socket is full.</summary>
    [UnmanagedCallersOnly]
    private static nint Flush(nint self, nint* args, nint nargs)
    {
        try
        {
            return CPython.NewBool(s_channel.Flush());
        }
        catch (IOException)
        {
            s_frontGone();
            return CPython.NewBool(true);
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    /// <summary><c>_fd()</c> → the channel socket's descriptor, for <c>loop.add_reader</c>.</summary>
    [UnmanagedCallersOnly]
    private static nint FileDescriptor(nint self, nint* args, nint nargs) =>
        CPython.PyLong_FromUnsignedLongLong((ulong)s_channel.FileDescriptor);

    /// <summary><c>_started(failure)</c>: the loop has run lifespan startup; None when the worker takes requests, else why not.</summary>
    [UnmanagedCallersOnly]
    private static nint Started(nint self, nint* args, nint nargs)
    {
        try
        {
            string? failure = null;
            if (nargs == 1 && args[0] != CPython.None)
            {
                if (!CPython.TryGetBytes(args[0], out ReadOnlySpan<byte> text))
                {
                    return 0;
                }
                failure = System.Text.Encoding.UTF8.GetString(text);
            }
            s_started(failure);
            return CPython.NewNone();
        }
        catch (Exception ex)
        {
            return Fail(ex);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint Fail(Exception ex)
    {
        CPython.SetError(CPython.RuntimeError, "kwsgi: " + ex.Message);
        return 0;
    }
}
