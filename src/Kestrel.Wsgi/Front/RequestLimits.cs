using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// The request limits the front applies itself (Kestrel applies the others, see Hosting/KestrelLimits), and
/// where request bodies wait until they are complete and responses wait for a slow client.
/// </summary>
/// <param name="MaxBodySize">Largest request body; null for none.</param>
/// <param name="MaxFieldSize">Largest single header field (name, ": ", value); null for none.</param>
/// <param name="BufferBody">Read the whole body before a worker is taken.</param>
/// <param name="TempFolder">Where request bodies and responses too large for memory are spooled.</param>
internal sealed record RequestLimits(long? MaxBodySize, int? MaxFieldSize, bool BufferBody, string TempFolder)
{
    /// <summary>The limits <paramref name="options"/> asks for; throws <see cref="UsageException"/> when the temp folder is unusable.</summary>
    public static RequestLimits From(KwsgiOptions options)
    {
        string folder = Path.GetFullPath(options.TmpDir ?? Path.GetTempPath());
        if (options.TmpDir is not null && !Directory.Exists(folder))
        {
            throw new UsageException($"--tmp-dir folder {options.TmpDir} does not exist");
        }
        // Found out now, not at the first large upload or the first slow reader (responses spool here too).
        try
        {
            RequestBodyBuffer.CreateSpoolFile(folder).Dispose();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot create spool files in {folder}: {ex.Message}");
        }
        return new RequestLimits(options.MaxRequestBodySize, options.LimitRequestFieldSize, options.BufferRequestBody, folder);
    }
}
