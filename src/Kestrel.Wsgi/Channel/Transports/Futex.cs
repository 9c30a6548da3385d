using System.Runtime.InteropServices;

namespace Kestrel.Wsgi.Channel.Transports;

/// <summary>
/// Linux futex wait and wake on a 32-bit word in a shared mapping. The non-private operations on purpose: the
/// two ends are different processes, and FUTEX_PRIVATE_FLAG would key the word by this process's address space.
/// </summary>
internal static unsafe class Futex
{
    private const int FutexWait = 0;
    private const int FutexWake = 1;

    /// <summary>The syscall's number on this architecture, 0 where kwsgi does not know it.</summary>
    private static readonly long s_number = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        Architecture.Arm64 => 98,
        _ => 0,
    };

    /// <summary>True on Linux on x86-64 and arm64, where the shared-memory channel can wait and wake.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && s_number != 0;

    /// <summary>Sleeps while <c>*word == expected</c>; returns at a wake, at once if the word differs, or on a signal.</summary>
    public static void Wait(int* word, int expected) =>
        Syscall(s_number, word, FutexWait, expected, null, null, 0);

    /// <summary>Wakes every thread, of any process, sleeping on <paramref name="word"/>.</summary>
    public static void WakeAll(int* word) =>
        Syscall(s_number, word, FutexWake, int.MaxValue, null, null, 0);

    // syscall(2) is variadic, which .NET cannot call: a fixed-arity prototype with every argument register-sized
    // passes the same registers on x86-64 and arm64 Linux.
    [DllImport("libc", EntryPoint = "syscall")]
    private static extern long Syscall(long number, int* word, long op, long value, void* timeout, int* word2, long value3);
}
