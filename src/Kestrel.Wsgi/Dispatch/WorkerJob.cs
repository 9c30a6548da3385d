using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// Windows: the front puts itself into a new job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE before it starts
/// its first worker. A child is born in its parent's job, so there is no moment between a worker's start and its
/// assignment in which it could escape; and the only handle to the job is the front's, which the kernel closes
/// when the front ends in any way (TerminateProcess included), killing every worker then.
/// <para>
/// The job nests inside the one IIS (HttpPlatformHandler, ANCM) already put kwsgi in: Windows 8 and later allow
/// that. Where the assignment is refused (an older Windows, or an outer job that forbids nesting) kwsgi says so
/// once and goes on: workers then rely on the outer job, their channel's end-of-file and their watch on the
/// front's process handle (see WorkerHost).
/// </para>
/// </summary>
[SupportedOSPlatform("windows")]
internal static partial class WorkerJob
{
    private const uint JobObjectLimitBreakawayOk = 0x0800;
    private const uint JobObjectLimitKillOnJobClose = 0x2000;
    private const int JobObjectExtendedLimitInformation = 9;

    private static readonly Lazy<nint> s_job = new(Create);

    /// <summary>Puts the front into its job, once; later calls do nothing.</summary>
    public static void Join() => _ = s_job.Value;

    private static unsafe nint Create()
    {
        nint job = CreateJobObjectW(0, null);
        if (job == 0)
        {
            Warn("CreateJobObject", Marshal.GetLastPInvokeError());
            return 0;
        }
        var limits = new ExtendedLimitInformation();
        // BREAKAWAY_OK: a process the app starts with CREATE_BREAKAWAY_FROM_JOB (something meant to outlive the
        // server) may leave; workers and everything else stay in.
        limits.Basic.LimitFlags = JobObjectLimitKillOnJobClose | JobObjectLimitBreakawayOk;
        if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, (uint)sizeof(ExtendedLimitInformation)))
        {
            Warn("SetInformationJobObject", Marshal.GetLastPInvokeError());
            CloseHandle(job);
            return 0;
        }
        if (!AssignProcessToJobObject(job, GetCurrentProcess()))
        {
            Warn("AssignProcessToJobObject", Marshal.GetLastPInvokeError());
            CloseHandle(job);
            return 0;
        }
        // Never closed: closing the last handle of a kill-on-close job would kill the front itself.
        return job;
    }

    private static void Warn(string call, int error) =>
        Console.Error.WriteLine($"kwsgi: warning: workers are not in a kill-on-close job object ({call} failed, error {error}); "
            + "they still exit when the front's channel closes or its process ends");

    [StructLayout(LayoutKind.Sequential)]
    private struct BasicLimitInformation
    {
        public long PerProcessUserTimeLimit;
        public long PerJobUserTimeLimit;
        public uint LimitFlags;
        public nuint MinimumWorkingSetSize;
        public nuint MaximumWorkingSetSize;
        public uint ActiveProcessLimit;
        public nuint Affinity;
        public uint PriorityClass;
        public uint SchedulingClass;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoCounters
    {
        public ulong ReadOperationCount;
        public ulong WriteOperationCount;
        public ulong OtherOperationCount;
        public ulong ReadTransferCount;
        public ulong WriteTransferCount;
        public ulong OtherTransferCount;
    }

    /// <summary>JOBOBJECT_EXTENDED_LIMIT_INFORMATION.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ExtendedLimitInformation
    {
        public BasicLimitInformation Basic;
        public IoCounters IoInfo;
        public nuint ProcessMemoryLimit;
        public nuint JobMemoryLimit;
        public nuint PeakProcessMemoryUsed;
        public nuint PeakJobMemoryUsed;
    }

    [LibraryImport("kernel32", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    private static partial nint CreateJobObjectW(nint jobAttributes, string? name);

    [LibraryImport("kernel32", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static unsafe partial bool SetInformationJobObject(nint job, int infoClass, void* info, uint length);

    [LibraryImport("kernel32", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool AssignProcessToJobObject(nint job, nint process);

    [LibraryImport("kernel32")]
    private static partial nint GetCurrentProcess();

    [LibraryImport("kernel32", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool CloseHandle(nint handle);
}
