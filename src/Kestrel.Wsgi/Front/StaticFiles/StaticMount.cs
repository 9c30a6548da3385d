using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>
/// One <c>--static URL=FOLDER</c>: requests whose path is <see cref="UrlPath"/> or below it are answered from
/// <see cref="Folder"/> by the front, never by Python. The folder is taken relative to the working directory
/// after <c>--chdir</c>.
/// </summary>
public sealed record StaticMount(string UrlPath, string Folder)
{
    /// <summary>Parses <c>/url=folder</c>; throws <see cref="UsageException"/> with one sentence when it is not one.</summary>
    public static StaticMount Parse(string value)
    {
        int equals = value.IndexOf('=');
        if (equals <= 0 || equals == value.Length - 1)
        {
            throw new UsageException($"--static {value} must be URL=FOLDER, for example /static=./static");
        }
        string url = value[..equals].TrimEnd('/');
        string folder = value[(equals + 1)..];
        if (!value.StartsWith('/'))
        {
            throw new UsageException($"--static {value}: the URL path must start with /");
        }
        if (url.Length == 0)
        {
            throw new UsageException($"--static {value}: the URL path cannot be / (the app would never be reached)");
        }
        foreach (string segment in url[1..].Split('/'))
        {
            if (segment.Length == 0 || segment[0] == '.' || segment.AsSpan().IndexOfAny("%?#\\") >= 0)
            {
                throw new UsageException($"--static {value}: the URL path must be plain segments (no empty, dot, %, ?, # or \\ parts)");
            }
        }
        return new StaticMount(url, folder);
    }
}
