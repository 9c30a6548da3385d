// The limit row of perf/run.sh: what Kestrel alone does for the hello workload. Answers every request with
// "200 OK", Content-Type: text/plain, Content-Length: 13 and "Hello, World!" -- the bytes perf/apps/hello.py
// gives every WSGI server. Usage: KestrelHello --host 127.0.0.1 --port PORT
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

string host = "127.0.0.1";
int port = 8080;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--host": host = args[i + 1]; break;
        case "--port": port = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"KestrelHello: unknown option {args[i]}"); return 2;
    }
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();                       // no per-request logging
builder.WebHost.UseUrls($"http://{host}:{port}");
var app = builder.Build();

byte[] body = "Hello, World!"u8.ToArray();
app.UseWebSockets();
app.Run(async context =>
{
    if (context.WebSockets.IsWebSocketRequest)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(), default);
            if (received.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, default);
                return;
            }
            await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, default);
        }
    }
    var response = context.Response;
    response.StatusCode = 200;
    response.ContentType = "text/plain";
    response.ContentLength = body.Length;
    await response.Body.WriteAsync(body, 0, body.Length);
});

app.Start();
Console.WriteLine($"Listening on http://{host}:{port}");
app.WaitForShutdown();
return 0;
