namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>One kwsgi server shared by the tests of a class (IClassFixture).</summary>
public abstract class ServerFixture : IAsyncLifetime
{
    protected abstract string App { get; }

    protected virtual string[] ExtraArgs => [];

    private KwsgiProcess? _server;

    public KwsgiProcess Server => _server ?? throw new InvalidOperationException("server not started");

    public HttpClient Client => Server.Client;

    public int Port => Server.Port;

    public async Task InitializeAsync() => _server = await KwsgiProcess.StartAsync(App, ExtraArgs);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
