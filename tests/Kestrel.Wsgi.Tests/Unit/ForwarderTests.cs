using System.Net;
using System.Text;
using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>
/// The front's forwarder, step by step, against a worker played frame by frame over an in-memory channel: what
/// each step sends, and the status each failure maps to. Milliseconds each; the end-to-end suites cover the same
/// paths with real workers.
/// </summary>
public sealed class ForwarderTests : IAsyncLifetime
{
    private readonly InMemoryWorker _worker = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _worker.DisposeAsync();

    private Forwarder NewForwarder(int room = 4, int maxQueue = 8, string prefix = "", bool buffer = true)
    {
        var pool = new WorkerPool(1, room, maxQueue);
        pool.Add(0, _worker.Process);
        return new Forwarder(pool, new FrontOptions(prefix), new RequestLimits(1 << 20, null, buffer, Path.GetTempPath()), NullLogger<Forwarder>.Instance);
    }

    [Fact]
    public async Task Get_SendsOneHeadFrameWithEnd_AndRelaysTheAnswer()
    {
        var client = new Client("GET", "/hello/w%C3%B6rld?x=1");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);

        var (header, payload) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.RequestHead, header.Type);
        Assert.Equal(FrameFlags.End, header.Flags); // no body follows
        Dictionary<string, string> environ = InMemoryWorker.Environ(payload);
        Assert.Equal("GET", environ["REQUEST_METHOD"]);
        Assert.Equal("/hello/w\u00c3\u00b6rld", environ["PATH_INFO"]); // PEP 3333: the decoded bytes as latin-1
        Assert.Equal("x=1", environ["QUERY_STRING"]);

        await _worker.SendHeadAsync(header.StreamId, "200 OK", ("Content-Type", "text/plain"), ("Content-Length", "5"));
        await _worker.SendAsync(FrameType.ResponseBody, header.StreamId, "hello"u8.ToArray(), end: true);
        await forwarding;

        Assert.Equal(200, client.Context.Response.StatusCode);
        Assert.Equal("text/plain", client.Context.Response.ContentType);
        Assert.Equal("hello", await client.BodyAsync());
    }

    [Fact]
    public async Task BodyPastTheAppsContentLength_IsCut()
    {
        var client = new Client("GET", "/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        var (header, _) = await _worker.ReadFrameAsync();
        await _worker.SendHeadAsync(header.StreamId, "200 OK", ("Content-Length", "3"));
        await _worker.SendAsync(FrameType.ResponseBody, header.StreamId, "abcdef"u8.ToArray(), end: true);
        await forwarding;
        Assert.Equal("abc", await client.BodyAsync());
    }

    [Fact]
    public async Task Post_BodyFollowsTheHeadInFrames_ThenTheEnd()
    {
        byte[] body = new byte[10_000];
        new Random(3).NextBytes(body);
        var client = new Client("POST", "/upload", body);
        Task forwarding = NewForwarder().InvokeAsync(client.Context);

        var (head, _) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameFlags.None, head.Flags);
        var received = new MemoryStream();
        while (true)
        {
            var (frame, payload) = await _worker.ReadFrameAsync();
            Assert.Equal(head.StreamId, frame.StreamId);
            if (frame.Type == FrameType.RequestEnd)
            {
                break;
            }
            Assert.Equal(FrameType.RequestBody, frame.Type);
            received.Write(payload);
        }
        Assert.Equal(body, received.ToArray());

        await _worker.SendHeadAsync(head.StreamId, "204 No Content");
        await _worker.SendAsync(FrameType.ResponseBody, head.StreamId, [], end: true);
        await forwarding;
        Assert.Equal(204, client.Context.Response.StatusCode);
    }

    [Fact]
    public async Task WorkerDiesBeforeItAnswers_502()
    {
        var client = new Client("GET", "/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        await _worker.ReadFrameAsync();
        await _worker.DieAsync();
        await forwarding;
        Assert.Equal(502, client.Context.Response.StatusCode);
        Assert.Equal("Bad Gateway: the worker serving this request died\n", await client.BodyAsync());
        Assert.False(_worker.Process.IsAlive);
    }

    [Fact]
    public async Task WorkerDiesAfterTheHead_TheConnectionIsDropped()
    {
        var client = new Client("GET", "/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        var (header, _) = await _worker.ReadFrameAsync();
        await _worker.SendHeadAsync(header.StreamId, "200 OK");
        await _worker.SendAsync(FrameType.ResponseBody, header.StreamId, "part"u8.ToArray());
        await _worker.DieAsync();
        await forwarding;
        Assert.True(client.Aborted, "a response cut short must not look complete");
    }

    [Fact]
    public async Task AppFailsAfterItsHead_TheConnectionIsDropped()
    {
        var client = new Client("GET", "/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        var (header, _) = await _worker.ReadFrameAsync();
        await _worker.SendHeadAsync(header.StreamId, "200 OK");
        await _worker.SendAsync(FrameType.ResponseAbort, header.StreamId, []);
        await forwarding;
        Assert.True(client.Aborted);
        Assert.True(_worker.Process.IsAlive, "an app's exception is not the worker's death");
    }

    [Fact]
    public async Task RequestPastItsTimeout_504()
    {
        _worker.Process.RequestTimeoutMs = 1;
        var client = new Client("GET", "/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        await _worker.ReadFrameAsync();
        Assert.True(_worker.Process.TimeOutOverdue(long.MaxValue));
        await forwarding;
        Assert.Equal(504, client.Context.Response.StatusCode);
        Assert.False(_worker.Process.IsAlive, "the worker of a timed-out request is replaced");
    }

    [Fact]
    public async Task ProtocolViolation_502()
    {
        var client = new Client("GET", "/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        var (header, _) = await _worker.ReadFrameAsync();
        await _worker.SendAsync(FrameType.RequestHead, header.StreamId, []); // a front-to-worker frame, from the worker
        await forwarding;
        Assert.Equal(502, client.Context.Response.StatusCode);
    }

    [Fact]
    public async Task NoRoomAndNoQueue_503WithRetryAfter_WithoutTouchingTheWorker()
    {
        Forwarder forwarder = NewForwarder(room: 1, maxQueue: 0);
        var first = new Client("GET", "/");
        Task holding = forwarder.InvokeAsync(first.Context);
        var (header, _) = await _worker.ReadFrameAsync();

        var second = new Client("GET", "/");
        await forwarder.InvokeAsync(second.Context);
        Assert.Equal(503, second.Context.Response.StatusCode);
        Assert.Equal("1", second.Context.Response.Headers.RetryAfter.ToString());

        await _worker.SendHeadAsync(header.StreamId, "200 OK");
        await _worker.SendAsync(FrameType.ResponseBody, header.StreamId, [], end: true);
        await holding;
        Assert.Equal(200, first.Context.Response.StatusCode);
    }

    [Fact]
    public async Task PathOutsideThePrefix_404_WithoutTouchingTheWorker()
    {
        var client = new Client("GET", "/elsewhere");
        await NewForwarder(prefix: "/app").InvokeAsync(client.Context);
        Assert.Equal(404, client.Context.Response.StatusCode);

        // The next request is the first frame the worker sees.
        var inside = new Client("GET", "/app/x");
        Task forwarding = NewForwarder(prefix: "/app").InvokeAsync(inside.Context);
        var (header, payload) = await _worker.ReadFrameAsync();
        Assert.Equal("/x", InMemoryWorker.Environ(payload)["PATH_INFO"]);
        Assert.Equal("/app", InMemoryWorker.Environ(payload)["SCRIPT_NAME"]);
        await _worker.SendHeadAsync(header.StreamId, "200 OK");
        await _worker.SendAsync(FrameType.ResponseBody, header.StreamId, [], end: true);
        await forwarding;
    }

    [Fact]
    public async Task ControlCharacterInAHeader_400AndClose()
    {
        var client = new Client("GET", "/");
        client.Context.Request.Headers["X-Bad"] = "a\u0001b";
        await NewForwarder().InvokeAsync(client.Context);
        Assert.Equal(400, client.Context.Response.StatusCode);
        Assert.Equal("close", client.Context.Response.Headers.Connection.ToString());
    }

    [Fact]
    public async Task AnExchangeIsReused_AndAPartForTheRequestItServedBefore_IsDropped()
    {
        WorkerConnection connection = _worker.Process.Connection;
        Exchange first = connection.Open(long.MaxValue);
        uint oldId = first.Id;
        connection.Close(first);

        Exchange second = connection.Open(long.MaxValue);
        Assert.Same(first, second); // no allocation per request
        Assert.NotEqual(oldId, second.Id);

        // What the channel reader routed for the old request just before it ended must not reach the new one.
        second.Post(oldId, new ResponsePart(ResponsePartKind.Abort, null, 0, true));
        second.AddRequestCredit(oldId, 1 << 20);
        second.Post(second.Id, new ResponsePart(ResponsePartKind.Body, null, 0, true));
        Assert.True(await second.Parts.WaitToReadAsync());
        Assert.True(second.Parts.TryRead(out ResponsePart part));
        Assert.Equal(ResponsePartKind.Body, part.Kind);
        Assert.False(second.Parts.TryRead(out _));
        connection.Close(second);
    }

    /// <summary>As in Kestrel, the response has started once a byte of its body went out.</summary>
    private sealed class ResponseFeature(MemoryStream sent) : HttpResponseFeature
    {
        public override bool HasStarted => sent.Length > 0;
    }

    /// <summary>A client's request and the response the forwarder writes, held in memory.</summary>
    private sealed class Client : IHttpRequestLifetimeFeature, IHttpRequestBodyDetectionFeature
    {
        private readonly MemoryStream _responseBody = new();
        private readonly StreamResponseBodyFeature _bodyFeature;

        public Client(string method, string target, byte[]? body = null)
        {
            Context = new DefaultHttpContext();
            IHttpRequestFeature request = Context.Features.Get<IHttpRequestFeature>()!;
            request.Method = method;
            request.RawTarget = target;
            request.Protocol = "HTTP/1.1";
            request.Scheme = "http";
            Context.Request.Headers.Host = "localhost";
            Context.Connection.RemoteIpAddress = IPAddress.Loopback;
            Context.Connection.LocalIpAddress = IPAddress.Loopback;
            CanHaveBody = body is not null;
            if (body is not null)
            {
                Context.Request.Body = new MemoryStream(body);
                Context.Request.ContentLength = body.Length;
            }
            _bodyFeature = new StreamResponseBodyFeature(_responseBody);
            Context.Features.Set<IHttpResponseBodyFeature>(_bodyFeature);
            Context.Features.Set<IHttpResponseFeature>(new ResponseFeature(_responseBody));
            Context.Features.Set<IHttpRequestLifetimeFeature>(this);
            Context.Features.Set<IHttpRequestBodyDetectionFeature>(this);
        }

        public DefaultHttpContext Context { get; }

        public bool Aborted { get; private set; }

        public bool CanHaveBody { get; }

        public CancellationToken RequestAborted { get; set; }

        public void Abort() => Aborted = true;

        public async Task<string> BodyAsync()
        {
            await _bodyFeature.CompleteAsync();
            return Encoding.UTF8.GetString(_responseBody.ToArray());
        }
    }
}
