using System.Buffers;
using Kestrel.Wsgi.Front;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>PATH_INFO is the percent-decoded path as latin-1 bytes; QUERY_STRING stays raw; fragments vanish.</summary>
public class RequestTargetTests
{
    [Theory]
    [InlineData("/", "/", "")]
    [InlineData("/a%20b?x=%20", "/a b", "x=%20")]
    [InlineData("/a%2Fb", "/a/b", "")]
    [InlineData("/%E4%BD%A0", "/\u00e4\u00bd\u00a0", "")]
    [InlineData("/bad%zzescape%2", "/bad%zzescape%2", "")]
    [InlineData("/nul%00byte", "/nul\0byte", "")]
    [InlineData("/p?q=1#frag", "/p", "q=1")]
    [InlineData("/p#frag?notquery", "/p", "")]
    [InlineData("http://example.com/abs/path?q", "/abs/path", "q")]
    [InlineData("http://example.com", "/", "")]
    [InlineData("*", "*", "")]
    public void SplitsAndDecodes(string raw, string expectedPath, string expectedQuery)
    {
        var path = new ArrayBufferWriter<byte>();
        string query = RequestTarget.Split(raw, path);
        Assert.Equal(expectedPath, System.Text.Encoding.Latin1.GetString(path.WrittenSpan));
        Assert.Equal(expectedQuery, query);
    }
}
