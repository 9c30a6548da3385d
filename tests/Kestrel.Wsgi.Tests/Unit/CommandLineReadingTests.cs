using System.CommandLine;
using Kestrel.Wsgi.Cli;
using Kestrel.Wsgi.Hosting;
using Kestrel.Wsgi.Tests.Windows;
using Microsoft.AspNetCore.HttpOverrides;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>One root for every in-memory test: System.CommandLine's options are shared objects.</summary>
internal static class TestRoot
{
    public static readonly RootCommand Root = CommandLine.CreateRoot();
}

/// <summary>
/// The command line, KWSGI_* variables and a kwsgi.toml read into options in memory (CommandLine.Read starts
/// nothing): precedence, where each value came from, the file's mistakes at their line, and every waitress and
/// gunicorn name with what it does.
/// </summary>
[Collection(nameof(CommandLineReadingTests))]
public sealed class CommandLineReadingTests : IDisposable
{
    private readonly PrivateTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    private static CommandLine.Reading Read(string[] args, Dictionary<string, string>? environment = null) =>
        CommandLine.Read(TestRoot.Root, args, name => environment?.GetValueOrDefault(name));

    private static string Refusal(string[] args, Dictionary<string, string>? environment = null) =>
        Assert.Throws<UsageException>(() => Read(args, environment)).Message;

    private string Toml(string text)
    {
        string path = Path.Combine(_temp.Folder, "kwsgi.toml");
        File.WriteAllText(path, text);
        return path;
    }

    private static Option Named(string name) => TestRoot.Root.Options.Single(o => o.Name == name);

    [Fact]
    public void Defaults_ComeFromKwsgiOptions()
    {
        var defaults = new KwsgiOptions { App = "hello:app" };
        KwsgiOptions read = Read(["hello:app"]).Options;
        Assert.Equal(defaults.Threads, read.Threads);
        Assert.Equal(Environment.ProcessorCount, read.Workers);
        Assert.Equal(defaults.MaxQueue, read.MaxQueue);
        Assert.Equal(defaults.KeepAliveTimeout, read.KeepAliveTimeout);
        Assert.Equal(defaults.MaxRequestBodySize, read.MaxRequestBodySize);
        Assert.Equal(defaults.Backlog, read.Backlog);
        Assert.Equal(defaults.GracefulTimeout, read.GracefulTimeout);
        Assert.Equal(defaults.HeartbeatTimeout, read.HeartbeatTimeout);
        Assert.Equal(defaults.StaticMaxAge, read.StaticMaxAge);
        Assert.Equal(8080, read.Port);
        Assert.Null(read.ServerHeader);
        Assert.Null(read.ConnectionLimit);
        Assert.Null(read.UrlScheme);
        Assert.Equal(Convert.ToInt32("600", 8), read.UnixSocketMode);
    }

    [Fact]
    public void CommandLine_WinsOverEnvironment_WhichWinsOverFile_WhichWinsOverDefault()
    {
        string file = Toml("app = \"fromfile:app\"\nworkers = 3\nthreads = 5\nmax_queue = 7\nstatic = [\"/a=a\", \"/b=b\"]\n");
        var environment = new Dictionary<string, string> { ["KWSGI_THREADS"] = "6", ["KWSGI_MAX_QUEUE"] = "8" };
        CommandLine.Reading reading = Read(["--config", file, "--max-queue", "9"], environment);
        Assert.Equal("fromfile:app", reading.Options.App);
        Assert.Equal(3, reading.Options.Workers);
        Assert.Equal(6, reading.Options.Threads);
        Assert.Equal(9, reading.Options.MaxQueue);
        Assert.Equal(["/a", "/b"], reading.Options.StaticMounts.Select(m => m.UrlPath));
        Assert.Equal(1024 * 1024 * 1024L, reading.Options.MaxRequestBodySize);
        Assert.Equal($"file {file}:2", reading.Sources.Describe(Named("--workers")));
        Assert.Equal("environment (KWSGI_THREADS)", reading.Sources.Describe(Named("--threads")));
        Assert.Equal("command line", reading.Sources.Describe(Named("--max-queue")));
        Assert.Equal("default", reading.Sources.Describe(Named("--backlog")));
        Assert.Equal(SettingSource.File, reading.Sources.App);
    }

    [Fact]
    public void ConfigFile_FromKwsgiConfigVariable()
    {
        string file = Toml("workers = 2\n");
        KwsgiOptions read = Read(["hello:app"], new() { ["KWSGI_CONFIG"] = file }).Options;
        Assert.Equal(2, read.Workers);
    }

    [Fact]
    public void ConfigFile_TypesMapOntoOptions()
    {
        string file = Toml("call = true\ngraceful_timeout = 2.5\nkeep_alive = 60\nbuffer_request_body = false\nlisten = \"127.0.0.1:9000\"\n");
        KwsgiOptions read = Read(["--config", file, "hello:app"]).Options;
        Assert.True(read.CallFactory);
        Assert.Equal(TimeSpan.FromSeconds(2.5), read.GracefulTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), read.KeepAliveTimeout);
        Assert.False(read.BufferRequestBody);
        Assert.Equal(9000, Assert.Single(read.Listen).Port);
    }

    [Theory]
    [InlineData("workerz = 2\n", ":1: unknown key workerz")]
    [InlineData("threads = 4\nmax-queue = 3\n", ":2: unknown key max-queue (write it max_queue)")]
    [InlineData("workers = \"four\"\n", ":1: workers must be an integer")]
    [InlineData("call = 1\n", ":1: call must be true or false")]
    [InlineData("static = [1, 2]\n", ":1: static must be a string or an array of strings")]
    [InlineData("\n\nworkers = \n", ":3:")]
    [InlineData("[server]\nworkers = 2\n", ":1: kwsgi.toml has no [tables]")]
    [InlineData("app = 5\n", ":1: app must be a string")]
    [InlineData("\nworkers = 0\n", ":2: --workers 0 must be between 1 and 1024")]
    [InlineData("print_config = true\n", ":1: unknown key print_config")]
    public void ConfigFile_Mistake_IsOneLineWithFileAndLine(string toml, string expected)
    {
        string file = Toml(toml);
        string message = Refusal(["--config", file, "hello:app"]);
        Assert.StartsWith(file + ":", message);
        Assert.Contains(expected, message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void ConfigFile_Unreadable_And_Python_AreRefused()
    {
        Assert.Contains("cannot read the config file", Refusal(["--config", Path.Combine(_temp.Folder, "missing.toml"), "hello:app"]));
        Assert.Contains("gunicorn config file is Python", Refusal(["-c", "gunicorn.conf.py", "hello:app"]));
    }

    [Fact]
    public void NoApp_IsRefused_UnlessOnlyPrintingTheConfig()
    {
        Assert.StartsWith("no app given", Refusal(["--workers", "2"]));
        Assert.True(Read(["--print-config"]).PrintConfig);
        Assert.True(Read(["--check-config"]).CheckConfig);
    }

    [Fact]
    public void ListenFromTheCommandLine_ReplacesPortFromTheFile_ButNotTheOtherWayRound()
    {
        string file = Toml("port = 9001\n");
        Assert.Equal(9002, Assert.Single(Read(["--config", file, "--listen", "127.0.0.1:9002", "hello:app"]).Options.Listen).Port);
        string listening = Toml("listen = \"127.0.0.1:9003\"\n");
        KwsgiOptions read = Read(["--config", listening, "--port", "9004", "hello:app"]).Options;
        Assert.Empty(read.Listen);
        Assert.Equal(9004, read.Port);
        Assert.Contains("--listen and --host/--port", Refusal(["--listen", "127.0.0.1:9002", "--port", "9004", "hello:app"]));
        Assert.Contains("--listen and --host/--port", Refusal(["--config", Toml("port = 1\nlisten = \"127.0.0.1:9002\"\n"), "hello:app"]));
        // The images set KWSGI_PORT; a KWSGI_LISTEN beside it replaces it.
        KwsgiOptions fromVariables = Read(["hello:app"], new() { ["KWSGI_PORT"] = "9005", ["KWSGI_LISTEN"] = "127.0.0.1:9006" }).Options;
        Assert.Equal(9006, Assert.Single(fromVariables.Listen).Port);
    }

    // Aliases: waitress's and gunicorn's names for kwsgi's options.

    [Fact]
    public void T_IsTimeout_AsInGunicorn() => Assert.Equal(TimeSpan.FromSeconds(7), Read(["-t", "7", "hello:app"]).Options.Timeout);

    [Fact]
    public void Bind_IsListen_WithUnixSockets()
    {
        KwsgiOptions read = Read(["-b", "127.0.0.1:9005", "--bind", "unix:/tmp/kwsgi-test.sock", "--bind", "[::1]:9006", "hello:app"]).Options;
        Assert.Equal([9005, 0, 9006], read.Listen.Select(l => l.Port));
        Assert.Equal("/tmp/kwsgi-test.sock", read.Listen[1].UnixPath);
        Assert.Equal("::1", read.Listen[2].Host);
        Assert.Contains("inherited socket", Refusal(["-b", "fd://3", "hello:app"]));
    }

    [Fact]
    public void WaitressListen_TakesSeveralAddresses_AndUnixSocketPerms()
    {
        KwsgiOptions read = Read(["--listen=*:9007 localhost:9008", "--unix-socket", "/tmp/w.sock", "--unix-socket-perms", "660", "hello:app"]).Options;
        Assert.Equal(["*", "localhost", "unix:/tmp/w.sock"], read.Listen.Select(l => l.Host));
        Assert.Equal(Convert.ToInt32("660", 8), read.UnixSocketMode);
        Assert.Contains("octal", Refusal(["--unix-socket-perms", "999", "hello:app"]));
    }

    [Fact]
    public void Ident_IsTheServerHeader() => Assert.Equal("myapp", Read(["--ident", "myapp", "hello:app"]).Options.ServerHeader);

    [Fact]
    public void ChannelTimeout_IsKeepAlive() => Assert.Equal(TimeSpan.FromSeconds(45), Read(["--channel-timeout", "45", "hello:app"]).Options.KeepAliveTimeout);

    [Fact]
    public void GunicornKeepAlive_IsKeepAlive() => Assert.Equal(TimeSpan.FromSeconds(5), Read(["--keep-alive", "5", "hello:app"]).Options.KeepAliveTimeout);

    [Fact]
    public void AccessLogformat_IsAccessLogFormat()
    {
        KwsgiOptions read = Read(["--access-logfile", "-", "--access-logformat", "%(h)s %(s)s", "hello:app"]).Options;
        Assert.Equal("-", read.AccessLog);
        Assert.Equal("%(h)s %(s)s", read.AccessLogFormat);
    }

    [Fact]
    public void LimitRequestFieldUnderscoreSize_IsLimitRequestFieldSize() =>
        Assert.Equal(8190, Read(["--limit-request-field_size", "8190", "hello:app"]).Options.LimitRequestFieldSize);

    [Fact]
    public void ForwardedAllowIps_IsTrustedProxy_AsACommaSeparatedList()
    {
        ProxyTrust trust = Read(["--forwarded-allow-ips", "10.0.0.1, 192.168.0.0/16", "hello:app"]).Options.ProxyTrust;
        Assert.True(trust.Trusts(System.Net.IPAddress.Parse("10.0.0.1")));
        Assert.True(trust.Trusts(System.Net.IPAddress.Parse("192.168.3.4")));
        Assert.False(trust.Trusts(System.Net.IPAddress.Parse("10.0.0.2")));
    }

    [Fact]
    public void TrustedProxyFamily_AsInWaitress()
    {
        ProxyTrust trust = Read(["--trusted-proxy", "127.0.0.1", "--trusted-proxy-count", "2", "--trusted-proxy-headers", "x-forwarded-for x-forwarded-host",
            "--clear-untrusted-proxy-headers", "hello:app"]).Options.ProxyTrust;
        Assert.Equal(2, trust.Count);
        Assert.Equal(ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedHost, trust.Headers);
        Assert.True(trust.ClearUntrusted);
        Assert.True(Read(["--clear-untrusted-proxy-headers", "hello:app"]).Options.ProxyTrust.ClearUntrusted);
    }

    [Fact]
    public void ConnectionLimit_Threads_Backlog_Call_UrlPrefix_UrlScheme_AsInWaitress()
    {
        KwsgiOptions read = Read(["--connection-limit", "50", "--threads", "8", "--backlog", "64", "--call", "--url-prefix", "/app", "--url-scheme", "HTTPS",
            "--max-request-header-size", "4096", "--max-request-body-size", "1000", "hello:create"]).Options;
        Assert.Equal(50, read.ConnectionLimit);
        Assert.Equal(8, read.Threads);
        Assert.Equal(64, read.Backlog);
        Assert.True(read.CallFactory);
        Assert.Equal("/app", read.UrlPrefix);
        Assert.Equal("https", read.UrlScheme);
        Assert.Equal(4096, read.MaxRequestHeaderSize);
        Assert.Equal(1000, read.MaxRequestBodySize);
        Assert.Contains("http or https", Refusal(["--url-scheme", "ftp", "hello:app"]));
    }

    [Fact]
    public void GunicornWorkersTimeoutsAndRecycling_AreKwsgis()
    {
        KwsgiOptions read = Read(["-w", "3", "--graceful-timeout", "5", "--max-requests", "100", "--max-requests-jitter", "10", "--chdir", "/tmp",
            "--limit-request-line", "4094", "--limit-request-fields", "50", "--log-level", "debug", "hello:app"]).Options;
        Assert.Equal(3, read.Workers);
        Assert.Equal(TimeSpan.FromSeconds(5), read.GracefulTimeout);
        Assert.Equal(100, read.MaxRequests);
        Assert.Equal(10, read.MaxRequestsJitter);
        Assert.Equal("/tmp", read.Chdir);
        Assert.Equal(4094, read.LimitRequestLine);
        Assert.Equal(50, read.LimitRequestFields);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, read.LogLevel);
    }

    [Theory]
    [InlineData("0", ClientCertificateRequirement.None)]
    [InlineData("1", ClientCertificateRequirement.Optional)]
    [InlineData("2", ClientCertificateRequirement.Required)]
    public void CertReqs_IsSslClientCert(string number, ClientCertificateRequirement expected) =>
        Assert.Equal(expected, Read(["--cert-reqs", number, "hello:app"]).Options.ClientCertificates);

    [Fact]
    public void EnvPidUmaskPythonpath_AreProcessSettings()
    {
        ProcessSettings process = Read(["-e", "A=1", "--env", "B=x=y", "--pid", "app.pid", "-m", "0o027", "--pythonpath", "/opt/a,/opt/b", "hello:app"]).Process;
        Assert.Equal("app.pid", process.PidFile);
        Assert.Equal(Convert.ToInt32("027", 8), process.Umask);
        Assert.Contains(new KeyValuePair<string, string>("A", "1"), process.Environment);
        Assert.Contains(new KeyValuePair<string, string>("B", "x=y"), process.Environment);
        Assert.StartsWith("/opt/a" + Path.PathSeparator + "/opt/b", process.Environment.Last(e => e.Key == "PYTHONPATH").Value);
        Assert.Equal(Convert.ToInt32("022", 8), Read(["--umask", "022", "hello:app"]).Process.Umask);
        Assert.Equal(18, Read(["--umask", "18", "hello:app"]).Process.Umask);
        Assert.Contains("KEY=VALUE", Refusal(["-e", "novalue", "hello:app"]));
        Assert.Contains("--umask", Refusal(["--umask", "0o1777", "hello:app"]));
    }

    // Options with no effect: one warning each; refused ones: one sentence.

    public static TheoryData<string, bool> ForeignOptions()
    {
        var data = new TheoryData<string, bool>();
        foreach (ForeignOption foreign in WaitressOptions.Foreign.Concat(GunicornOptions.Foreign))
        {
            data.Add(foreign.Option.Name, foreign.Refused);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ForeignOptions))]
    public void ForeignOption_WarnsOrIsRefused(string name, bool refused)
    {
        Option option = Named(name);
        string[] args = option.ValueType == typeof(bool) ? [name, "hello:app"] : [name, "7", "hello:app"];
        if (refused)
        {
            Assert.StartsWith($"{name} is not supported: ", Refusal(args));
            return;
        }
        string warning = Assert.Single(Read(args).Warnings);
        Assert.StartsWith($"{name} has no effect here (", warning);
    }

    [Fact]
    public void ForeignOption_ByItsShortName_NamesWhatWasTyped()
    {
        Assert.StartsWith("-D is not supported: run kwsgi in the foreground", Refusal(["-D", "hello:app"]));
        Assert.StartsWith("-n has no effect here", Assert.Single(Read(["-n", "myapp", "hello:app"]).Warnings));
    }

    [Fact]
    public void WorkerClass_Warns_NamingWhatKwsgiDoesInstead()
    {
        Assert.Contains("own Python threads", Assert.Single(Read(["-k", "gthread", "hello:app"]).Warnings));
        Assert.Contains("ASGI app is detected", Assert.Single(Read(["--worker-class", "uvicorn.workers.UvicornWorker", "hello:app"]).Warnings));
    }

    [Fact]
    public void ErrorLogfile_Dash_IsTheDefault_APath_Warns()
    {
        Assert.Empty(Read(["--error-logfile", "-", "hello:app"]).Warnings);
        Assert.Contains(">> /var/log/app.log", Assert.Single(Read(["--log-file", "/var/log/app.log", "hello:app"]).Warnings));
    }

    [Fact]
    public void KnownOptions_GiveNoWarning() => Assert.Empty(Read(["-w", "2", "--threads", "2", "hello:app"]).Warnings);

    [Fact]
    public void PrintedConfig_IsTomlThatReadsBackTheSameValues()
    {
        string file = Toml("workers = 3\nstatic = [\"/a=a\"]\n");
        CommandLine.Reading reading = Read(["--config", file, "--threads", "2", "--ident", "say \"hi\"", "hello:app"], new() { ["KWSGI_MAX_QUEUE"] = "11" });
        var output = new StringWriter();
        PrintedConfig.Write(output, TestRoot.Root, reading.Parsed, reading.Sources);
        string printed = output.ToString();
        Assert.Contains("app = \"hello:app\"  # command line", printed);
        Assert.Contains($"workers = 3  # file {file}:1", printed);
        Assert.Contains("threads = 2  # command line", printed);
        Assert.Contains("max_queue = 11  # environment (KWSGI_MAX_QUEUE)", printed);
        Assert.Contains("# backlog = 2048  # default", printed);
        Assert.Contains("static = [\"/a=a\"]", printed);
        Assert.Contains("# certfile is not set (default)", printed);
        // Fed back as a config file, it gives the same settings.
        string again = Toml(printed);
        CommandLine.Reading reread = Read(["--config", again]);
        var reprinted = new StringWriter();
        PrintedConfig.Write(reprinted, TestRoot.Root, reread.Parsed, reread.Sources);
        Assert.Equal(Values(printed), Values(reprinted.ToString()));
        Assert.Equal("say \"hi\"", reread.Options.ServerHeader);
        Assert.Equal(3, reread.Options.Workers);
    }

    /// <summary>The key = value part of each line that sets something (the sources differ, naturally).</summary>
    private static string[] Values(string printed) =>
        printed.Split('\n').Where(line => line.Contains(" = ", StringComparison.Ordinal)).Select(line => line[..line.LastIndexOf("  # ", StringComparison.Ordinal)]).ToArray();
}
