namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>The stamps of a file and of its precompressed siblings (<c>.br</c>, <c>.gz</c>): a change to any of them reloads it.</summary>
internal readonly record struct FileStamps(FileStamp Identity, FileStamp? Brotli, FileStamp? Gzip)
{
    public const string BrotliSuffix = ".br";
    public const string GzipSuffix = ".gz";

    /// <summary>The stamps of <paramref name="relative"/> and its siblings; null when the file itself may not be served.</summary>
    public static FileStamps? Probe(StaticRoot root, string relative)
    {
        if (FileStamp.Probe(root, relative, out _) is not FileStamp identity)
        {
            return null;
        }
        return new FileStamps(identity, FileStamp.Probe(root, relative + BrotliSuffix, out _), FileStamp.Probe(root, relative + GzipSuffix, out _));
    }
}
