using System.Globalization;

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// What IIS's ASP.NET Core Module (out of process) tells the process it starts, in its environment:
/// the port to listen on, the IIS application's virtual path and the pairing token every forwarded request carries.
/// </summary>
public sealed record AncmSettings(int Port, string ApplicationPath, string Token)
{
    public const string PortVariable = "ASPNETCORE_PORT";
    public const string PathVariable = "ASPNETCORE_APPL_PATH";
    public const string TokenVariable = "ASPNETCORE_TOKEN";

    /// <summary>
    /// The module's settings when it started this process (ASPNETCORE_PORT and ASPNETCORE_TOKEN set), else null.
    /// A port without a token is refused: listening on the module's port without checking its token would let any
    /// local process talk to the app as if it were IIS.
    /// </summary>
    public static AncmSettings? FromEnvironment()
    {
        string? port = Environment.GetEnvironmentVariable(PortVariable);
        string? token = Environment.GetEnvironmentVariable(TokenVariable);
        if (string.IsNullOrEmpty(port) && string.IsNullOrEmpty(token))
        {
            return null;
        }
        if (string.IsNullOrEmpty(port) || string.IsNullOrEmpty(token))
        {
            throw new UsageException($"{(string.IsNullOrEmpty(port) ? PortVariable : TokenVariable)} is not set but {(string.IsNullOrEmpty(port) ? TokenVariable : PortVariable)} is: the ASP.NET Core Module sets both");
        }
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || number is < 1 or > 65535)
        {
            throw new UsageException($"{PortVariable} is '{port}', which is not a port number");
        }
        string path = Environment.GetEnvironmentVariable(PathVariable) ?? "";
        path = path.Length == 0 ? "/" : path;
        if (path[0] != '/')
        {
            throw new UsageException($"{PathVariable} is '{path}', which is not a URL path (it starts with /)");
        }
        return new AncmSettings(number, path, token);
    }

    /// <summary>SCRIPT_NAME for the IIS application: its virtual path without the trailing slash ("" at the site's root).</summary>
    public string UrlPrefix => ApplicationPath.TrimEnd('/');
}
