using System.Buffers;
using System.IO.Pipelines;
using Kestrel.Wsgi.Front;
using Kestrel.Wsgi.Front.StaticFiles;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>
/// The spool's own logic, in memory: bytes come out in the order they went in, across memory and the file; the
/// per-response and shared memory bounds send the rest to the file; the drain feeds a pipe that is slower than
/// the appends, and frees everything when done.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // checks the file has no name via /proc
public sealed class ResponseSpoolTests : IDisposable
{
    private const int Piece = 64 * 1024;

    private readonly string _folder = Directory.CreateTempSubdirectory("kwsgi-test-spoolunit-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A pooled buffer of <paramref name="length"/> bytes numbered from <paramref name="start"/> (mod 251).</summary>
    private static byte[] Numbered(long start, int length)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        for (int i = 0; i < length; i++)
        {
            buffer[i] = (byte)((start + i) % 251);
        }
        return buffer;
    }

    private static void AssertNumbered(ReadOnlySpan<byte> bytes, long start)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            Assert.True(bytes[i] == (byte)((start + i) % 251), $"byte {start + i} is wrong");
        }
    }

    /// <summary>Takes everything held, in reads of <paramref name="size"/> bytes, checking the numbering.</summary>
    private static long ReadAll(ResponseSpool spool, long start, int size)
    {
        var buffer = new byte[size];
        long position = start;
        int n;
        while ((n = spool.Read(buffer)) > 0)
        {
            AssertNumbered(buffer.AsSpan(0, n), position);
            position += n;
        }
        return position - start;
    }

    [Fact]
    public void SmallResponse_StaysInMemory_InOrder()
    {
        var budget = new MemoryBudget(ResponseSpool.MemoryTotal);
        using var spool = new ResponseSpool(budget, _folder);
        spool.Append(Numbered(0, 1000), 1000);
        spool.Append(Numbered(1000, 5000), 5000);
        Assert.False(spool.UsedFile);
        Assert.Equal(6000, spool.Length);
        Assert.True(budget.Used > 0);
        Assert.Equal(6000, ReadAll(spool, 0, 777)); // reads that cut the pieces anywhere
        Assert.Equal(0, spool.Length);
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void PastThePerResponseBound_TheRestGoesToAnUnnamedFile_AndComesBackInOrder()
    {
        var budget = new MemoryBudget(ResponseSpool.MemoryTotal);
        using var spool = new ResponseSpool(budget, _folder);
        int pieces = ResponseSpool.MemoryPerResponse / Piece + 4;
        for (int i = 0; i < pieces; i++)
        {
            spool.Append(Numbered((long)i * Piece, Piece), Piece);
        }
        Assert.True(spool.UsedFile);
        Assert.True(budget.Used <= ResponseSpool.MemoryPerResponse, $"{budget.Used} bytes of memory held");
        // In the folder, opened, with no name left.
        Assert.Empty(Directory.GetFiles(_folder));
        Assert.Contains(OpenFilesOfThisProcess(), target => target.StartsWith(_folder, StringComparison.Ordinal) && target.EndsWith(" (deleted)", StringComparison.Ordinal));
        Assert.Equal((long)pieces * Piece, ReadAll(spool, 0, 10_000));
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void WhileTheFileHoldsBytes_NewBytesFollowThem_ThenMemoryIsUsedAgainOnceItIsDrained()
    {
        var budget = new MemoryBudget(ResponseSpool.MemoryTotal);
        using var spool = new ResponseSpool(budget, _folder);
        long appended = 0;
        void Append(int length)
        {
            spool.Append(Numbered(appended, length), length);
            appended += length;
        }
        for (int i = 0; i < ResponseSpool.MemoryPerResponse / Piece + 2; i++)
        {
            Append(Piece);
        }
        // Take all the memory and part of the file: memory has room again, but the file still holds older bytes.
        var buffer = new byte[ResponseSpool.MemoryPerResponse + 1000];
        int taken = 0;
        while (taken < buffer.Length)
        {
            taken += spool.Read(buffer.AsSpan(taken));
        }
        AssertNumbered(buffer, 0);
        Assert.Equal(0, budget.Used);
        Append(1234);
        Assert.Equal(0, budget.Used); // behind the file, not in memory
        Assert.Equal(appended - taken, ReadAll(spool, taken, 4096));
        // Drained: memory again.
        Append(100);
        Assert.True(budget.Used > 0);
        Assert.Equal(100, ReadAll(spool, appended - 100, 4096));
    }

    [Fact]
    public void TheSharedBudget_BoundsMemoryAcrossResponses()
    {
        var budget = new MemoryBudget(Piece * 3);
        using var first = new ResponseSpool(budget, _folder);
        using var second = new ResponseSpool(budget, _folder);
        first.Append(Numbered(0, Piece), Piece);
        first.Append(Numbered(Piece, Piece), Piece);
        second.Append(Numbered(0, Piece), Piece);
        Assert.False(second.UsedFile);
        second.Append(Numbered(Piece, Piece), Piece); // the budget is spent: to the file
        Assert.True(second.UsedFile);
        Assert.Equal(Piece * 3, budget.Used);
        first.Dispose();
        second.Dispose();
        Assert.Equal(0, budget.Used); // what a finished or abandoned response held is given back
    }

    [Fact]
    public async Task Drain_FeedsASlowPipe_EverythingInOrder_ThenFinishes()
    {
        var budget = new MemoryBudget(ResponseSpool.MemoryTotal);
        // A pipe that pauses its writer at 64 KiB, as Kestrel's output does for a client that does not read.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: Piece, resumeWriterThreshold: Piece / 2, useSynchronizationContext: false));
        ValueTask<FlushResult> pending = pipe.Writer.WriteAsync(Numbered(0, Piece * 2).AsMemory(0, Piece * 2));
        Assert.False(pending.IsCompleted); // the condition under which the handler starts a spool
        ResponseSpool spool = ResponseSpool.Start(pipe.Writer, pending, budget, _folder, CancellationToken.None);
        const int total = 3 * 1024 * 1024;
        for (long offset = Piece * 2; offset < total; offset += Piece)
        {
            spool.Append(Numbered(offset, Piece), Piece); // never waits for the reader
        }
        Assert.True(spool.UsedFile);
        spool.Complete();

        long received = 0;
        Task reader = Task.Run(async () =>
        {
            while (received < total)
            {
                ReadResult result = await pipe.Reader.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    AssertNumbered(segment.Span, received);
                    received += segment.Length;
                }
                pipe.Reader.AdvanceTo(result.Buffer.End);
            }
        });
        await spool.FinishAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await reader.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(total, received);
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public async Task Drain_EndsWhenTheClientIsGone_AndFreesWhatIsHeld()
    {
        var budget = new MemoryBudget(ResponseSpool.MemoryTotal);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: Piece, resumeWriterThreshold: Piece / 2, useSynchronizationContext: false));
        ValueTask<FlushResult> pending = pipe.Writer.WriteAsync(new byte[Piece * 2]);
        ResponseSpool spool = ResponseSpool.Start(pipe.Writer, pending, budget, _folder, CancellationToken.None);
        spool.Append(Numbered(0, Piece), Piece);
        Assert.True(budget.Used > 0);
        pipe.Reader.Complete(); // the connection is gone: the pending flush completes as IsCompleted
        await spool.FinishAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, budget.Used);
        spool.Append(Numbered(0, Piece), Piece); // a late part is dropped, not held
        Assert.Equal(0, budget.Used);
    }

    private static IEnumerable<string> OpenFilesOfThisProcess()
    {
        foreach (string link in Directory.GetFiles("/proc/self/fd"))
        {
            string? target = null;
            try
            {
                target = new FileInfo(link).LinkTarget;
            }
            catch (IOException)
            {
            }
            if (target is not null)
            {
                yield return target;
            }
        }
    }
}
