using System.Runtime.InteropServices;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// The few CPython C-API functions the request hot path calls directly, bound from the same libpython that
/// pythonnet loaded. pythonnet starts the interpreter, imports the app and owns the GIL bookkeeping; the
/// per-request calls between Python and the channel go through these pointers, without reflection or
/// wrapper objects (see docs/worker.md).
/// </summary>
internal static unsafe class CPython
{
    public const int MethFastCall = 0x0080;

    public static delegate* unmanaged<byte*, nint, nint> PyBytes_FromStringAndSize;
    public static delegate* unmanaged<nint, byte**, nint*, int> PyBytes_AsStringAndSize;
    public static delegate* unmanaged<nint, long> PyLong_AsLong;
    public static delegate* unmanaged<ulong, nint> PyLong_FromUnsignedLongLong;
    public static delegate* unmanaged<nint, nint> PyTuple_New;
    public static delegate* unmanaged<nint, nint, nint, int> PyTuple_SetItem;
    public static delegate* unmanaged<nint, void> Py_IncRef;
    public static delegate* unmanaged<nint, void> Py_DecRef;
    public static delegate* unmanaged<nint> PyEval_SaveThread;
    public static delegate* unmanaged<nint, void> PyEval_RestoreThread;
    public static delegate* unmanaged<nint, byte*, void> PyErr_SetString;
    public static delegate* unmanaged<nint> PyErr_Occurred;
    public static delegate* unmanaged<nint, nint, nint, nint> PyCFunction_NewEx;
    public static delegate* unmanaged<nint, byte*, nint, int> PyObject_SetAttrString;
    public static delegate* unmanaged<nint, nint> PyList_New;
    public static delegate* unmanaged<nint, nint, int> PyList_Append;

    /// <summary>The <c>None</c> singleton.</summary>
    public static nint None;
    public static nint True;
    public static nint False;
    public static nint RuntimeError;
    public static nint TypeError;

    public static void Bind(string libraryPath)
    {
        nint lib = NativeLibrary.Load(libraryPath);
        PyBytes_FromStringAndSize = (delegate* unmanaged<byte*, nint, nint>)NativeLibrary.GetExport(lib, "PyBytes_FromStringAndSize");
        PyBytes_AsStringAndSize = (delegate* unmanaged<nint, byte**, nint*, int>)NativeLibrary.GetExport(lib, "PyBytes_AsStringAndSize");
        PyLong_AsLong = (delegate* unmanaged<nint, long>)NativeLibrary.GetExport(lib, "PyLong_AsLongLong");
        PyLong_FromUnsignedLongLong = (delegate* unmanaged<ulong, nint>)NativeLibrary.GetExport(lib, "PyLong_FromUnsignedLongLong");
        PyTuple_New = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(lib, "PyTuple_New");
        PyTuple_SetItem = (delegate* unmanaged<nint, nint, nint, int>)NativeLibrary.GetExport(lib, "PyTuple_SetItem");
        Py_IncRef = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "Py_IncRef");
        Py_DecRef = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "Py_DecRef");
        PyEval_SaveThread = (delegate* unmanaged<nint>)NativeLibrary.GetExport(lib, "PyEval_SaveThread");
        PyEval_RestoreThread = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "PyEval_RestoreThread");
        PyErr_SetString = (delegate* unmanaged<nint, byte*, void>)NativeLibrary.GetExport(lib, "PyErr_SetString");
        PyErr_Occurred = (delegate* unmanaged<nint>)NativeLibrary.GetExport(lib, "PyErr_Occurred");
        PyCFunction_NewEx = (delegate* unmanaged<nint, nint, nint, nint>)NativeLibrary.GetExport(lib, "PyCFunction_NewEx");
        PyObject_SetAttrString = (delegate* unmanaged<nint, byte*, nint, int>)NativeLibrary.GetExport(lib, "PyObject_SetAttrString");
        PyList_New = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(lib, "PyList_New");
        PyList_Append = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(lib, "PyList_Append");
        None = NativeLibrary.GetExport(lib, "_Py_NoneStruct");
        True = NativeLibrary.GetExport(lib, "_Py_TrueStruct");
        False = NativeLibrary.GetExport(lib, "_Py_FalseStruct");
        RuntimeError = *(nint*)NativeLibrary.GetExport(lib, "PyExc_RuntimeError");
        TypeError = *(nint*)NativeLibrary.GetExport(lib, "PyExc_TypeError");
    }

    /// <summary>Sets an attribute named by an ASCII string; 0 on success.</summary>
    public static int SetAttr(nint obj, string name, nint value)
    {
        byte* key = stackalloc byte[name.Length + 1];
        for (int i = 0; i < name.Length; i++)
        {
            key[i] = (byte)name[i];
        }
        key[name.Length] = 0;
        return PyObject_SetAttrString(obj, key, value);
    }

    /// <summary>A new reference to <c>True</c> or <c>False</c>.</summary>
    public static nint NewBool(bool value)
    {
        nint result = value ? True : False;
        Py_IncRef(result);
        return result;
    }

    /// <summary>A new reference to <c>None</c>.</summary>
    public static nint NewNone()
    {
        Py_IncRef(None);
        return None;
    }

    public static nint NewBytes(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            return PyBytes_FromStringAndSize(p, data.Length);
        }
    }

    /// <summary>Raises <paramref name="type"/> in Python with <paramref name="message"/>; the caller returns 0 (NULL).</summary>
    public static void SetError(nint type, string message)
    {
        int count = System.Text.Encoding.UTF8.GetByteCount(message);
        byte* text = stackalloc byte[count + 1];
        System.Text.Encoding.UTF8.GetBytes(message, new Span<byte>(text, count));
        text[count] = 0;
        PyErr_SetString(type, text);
    }

    /// <summary>The bytes of a Python <c>bytes</c> object, valid while the object lives; false (TypeError set) otherwise.</summary>
    public static bool TryGetBytes(nint obj, out ReadOnlySpan<byte> data)
    {
        byte* buffer;
        nint length;
        if (PyBytes_AsStringAndSize(obj, &buffer, &length) != 0)
        {
            data = default;
            return false;
        }
        data = new ReadOnlySpan<byte>(buffer, checked((int)length));
        return true;
    }

    /// <summary>Creates the native function <paramref name="name"/> (<see cref="NewFunction"/>) and stores it as that attribute of <paramref name="module"/> (GIL held).</summary>
    public static void InstallFunction(global::Python.Runtime.PyObject module, string name, delegate* unmanaged<nint, nint*, nint, nint> body)
    {
        nint function = NewFunction(name, body);
#pragma warning disable CS0612 // Handle is the raw object pointer the native functions need; no replacement is public.
        int result = SetAttr(module.Handle, name, function);
#pragma warning restore CS0612
        Py_DecRef(function);
        if (result != 0)
        {
            throw new InvalidOperationException($"Could not install {name}.");
        }
    }

    /// <summary>
    /// A Python builtin function whose body is a native (fast-call) function pointer. The method
    /// definition is allocated once and never freed: it must outlive the function object.
    /// </summary>
    public static nint NewFunction(string name, delegate* unmanaged<nint, nint*, nint, nint> body)
    {
        byte* utf8Name = (byte*)NativeMemory.Alloc((nuint)name.Length + 1);
        for (int i = 0; i < name.Length; i++)
        {
            utf8Name[i] = (byte)name[i];
        }
        utf8Name[name.Length] = 0;

        // PyMethodDef: { const char* ml_name; PyCFunction ml_meth; int ml_flags; const char* ml_doc; }
        nint* def = (nint*)NativeMemory.AllocZeroed((nuint)(4 * sizeof(nint)));
        def[0] = (nint)utf8Name;
        def[1] = (nint)body;
        def[2] = MethFastCall;
        def[3] = 0;
        nint function = PyCFunction_NewEx((nint)def, 0, 0);
        if (function == 0)
        {
            throw new InvalidOperationException($"Could not create the native function {name}.");
        }
        return function;
    }
}
