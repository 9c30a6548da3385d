using Kestrel.Wsgi.Tests.Unit;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// The test assembly's entry point, unused by the test runner: tests re-run this assembly as a child process
/// when they need a second process (<c>dotnet Kestrel.Wsgi.Tests.dll shm-peer …</c>).
/// </summary>
public static class Program
{
    public static int Main(string[] args) =>
        args is ["shm-peer", ..] ? SharedMemoryPeer.Run(args[1..]) : 0;
}
