using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Worker;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>How a worker is told where its channel is: socket paths and pipe names survive the trip, Windows paths included.</summary>
public class ChannelAddressTests
{
    [Theory]
    [InlineData("/tmp/kwsgi-12-0123456789abcdef0123456789abcdef.sock", false, "/tmp/kwsgi-12-0123456789abcdef0123456789abcdef.sock")]
    [InlineData(@"C:\Users\app pool\AppData\Local\Temp\kwsgi-12-ab.sock", false, @"C:\Users\app pool\AppData\Local\Temp\kwsgi-12-ab.sock")]
    [InlineData("pipe:kwsgi-12-0123456789abcdef0123456789abcdef", true, "kwsgi-12-0123456789abcdef0123456789abcdef")]
    [InlineData("pipe:/tmp/my temp/kwsgi-12-ab.pipe", true, "/tmp/my temp/kwsgi-12-ab.pipe")]
    public void ParseAndFormat_RoundTrip(string text, bool pipe, string name)
    {
        ChannelAddress address = ChannelAddress.Parse(text);
        Assert.Equal(pipe ? ChannelTransport.Pipe : ChannelTransport.Socket, address.Transport);
        Assert.Equal(name, address.Name);
        Assert.Equal(text, address.ToString());
    }

    [Fact]
    public void WorkerSettings_CarryTheChannelAndTheFrontPid_AsSeparateArguments()
    {
        var settings = new WorkerSettings
        {
            Channel = new ChannelAddress(ChannelTransport.Pipe, "kwsgi-7-ab").ToString(),
            FrontProcessId = 4242,
            App = "my app:application",
            Threads = 4,
            Workers = 2,
            PythonLibrary = @"C:\Program Files\Python312\python312.dll",
            PythonExecutable = @"C:\site\.venv\Scripts\python.exe",
            PythonPath = @"C:\site;C:\Program Files\Python312\Lib",
        };
        string[] arguments = settings.ToArguments().ToArray();
        Assert.Equal("worker", arguments[0]);
        WorkerSettings parsed = WorkerSettings.Parse(arguments[1..]);
        Assert.Equal(settings, parsed);
        Assert.Equal(ChannelTransport.Pipe, ChannelAddress.Parse(parsed.Channel).Transport);
    }

    [Theory]
    [InlineData("kwsgi-notes.sock")]
    [InlineData("kwsgi-12-0123456789abcdef0123456789abcdef.log")]
    [InlineData("kwsgi-x-0123456789abcdef0123456789abcdef.sock")]
    [InlineData("kwsgi-12-not-a-guid.sock")]
    [InlineData("other-12-0123456789abcdef0123456789abcdef.sock")]
    public void StaleSweep_OnlyConsidersChannelNames(string name)
    {
        // Judged by name alone: such a file is never even looked at for its age or owner.
        Assert.False(StaleChannelFiles.IsStale(Path.Combine("/nonexistent", name), DateTime.UtcNow));
    }
}
