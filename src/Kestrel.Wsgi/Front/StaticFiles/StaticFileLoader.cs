using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>Reads a file (and its precompressed siblings) from disk into a <see cref="StaticFile"/>.</summary>
internal sealed class StaticFileLoader(StaticFileSettings settings)
{
    private static readonly FileExtensionContentTypeProvider s_types = CreateTypes();

    /// <summary>
    /// The file at <paramref name="relative"/> as <paramref name="stamps"/> describe it; small bodies are read into
    /// memory when <paramref name="budget"/> has room (null: hold none).
    /// </summary>
    public StaticFile Load(StaticRoot root, string urlPath, string relative, FileStamps stamps, MemoryBudget? budget, long nextCheck)
    {
        string fileName = Path.GetFileName(relative);
        StaticRepresentation identity = Represent(ContentCoding.Identity, root, relative, stamps.Identity, budget);
        StaticRepresentation? brotli = stamps.Brotli is FileStamp b ? Represent(ContentCoding.Brotli, root, relative + FileStamps.BrotliSuffix, b, budget) : null;
        StaticRepresentation? gzip = stamps.Gzip is FileStamp g ? Represent(ContentCoding.Gzip, root, relative + FileStamps.GzipSuffix, g, budget) : null;
        StringValues cacheControl = HashedFileName.IsHashed(fileName) ? StaticFileSettings.ImmutableCacheControl : settings.CacheControl;
        return new StaticFile(urlPath, relative, stamps, ContentTypeOf(fileName), cacheControl, identity, brotli, gzip, nextCheck);
    }

    private static StaticRepresentation Represent(ContentCoding coding, StaticRoot root, string relative, FileStamp stamp, MemoryBudget? budget)
    {
        string path = Path.Join(root.Folder, relative);
        byte[]? body = null;
        if (budget is not null && stamp.Length <= StaticFileSettings.SmallFileLimit && budget.TryReserve(stamp.Length))
        {
            try
            {
                body = File.ReadAllBytes(path);
            }
            catch (IOException)
            {
                body = null; // gone or locked since it was probed: send from disk (and fail there) instead
            }
            catch (UnauthorizedAccessException)
            {
                body = null;
            }
            if (body?.Length != stamp.Length)
            {
                // Changed while being read; the stamp still describes the old file, so the next check reloads it.
                budget.Release(stamp.Length - (body?.Length ?? 0));
            }
        }
        return new StaticRepresentation(coding, path, stamp, body);
    }

    private static StringValues ContentTypeOf(string fileName)
    {
        if (!s_types.TryGetContentType(fileName, out string? type))
        {
            return "application/octet-stream";
        }
        // Text is read as UTF-8 unless it says otherwise (what Django's collectstatic and bundlers write).
        bool text = type.StartsWith("text/", StringComparison.Ordinal) || type is "application/javascript" or "image/svg+xml";
        return text ? type + "; charset=utf-8" : type;
    }

    private static FileExtensionContentTypeProvider CreateTypes()
    {
        var provider = new FileExtensionContentTypeProvider();
        provider.Mappings[".mjs"] = "text/javascript";
        provider.Mappings[".js"] = "text/javascript"; // RFC 9239
        provider.Mappings[".map"] = "application/json";
        provider.Mappings[".webmanifest"] = "application/manifest+json";
        provider.Mappings[".wasm"] = "application/wasm";
        provider.Mappings[".woff2"] = "font/woff2";
        provider.Mappings[".avif"] = "image/avif";
        return provider;
    }
}
