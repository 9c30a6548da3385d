using System.Text;

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>Reading a streamed response piece by piece, to act while it is still in flight.</summary>
internal static class StreamedBody
{
    /// <summary>Reads until the first line has arrived (the app's first chunk); returns every byte read so far.</summary>
    public static async Task<MemoryStream> ReadFirstLineAsync(Stream body)
    {
        var received = new MemoryStream();
        var buffer = new byte[1024];
        while (!Encoding.ASCII.GetString(received.ToArray()).Contains('\n'))
        {
            int n = await body.ReadAsync(buffer);
            Assert.True(n > 0, "the response ended before its first chunk");
            received.Write(buffer, 0, n);
        }
        return received;
    }
}
