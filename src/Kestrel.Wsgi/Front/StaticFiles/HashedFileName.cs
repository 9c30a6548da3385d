namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>
/// Recognises file names that carry a hash of their content, which never change and may be cached for ever:
/// Django's ManifestStaticFilesStorage (<c>base.0123456789ab.css</c>, 12 hex digits) and webpack/Rollup
/// <c>[name].[contenthash].js</c> (8 or more hex digits). The hash is a dot-separated part between the name and
/// the extension.
/// </summary>
internal static class HashedFileName
{
    private const int MinHashLength = 8;
    private const int MaxHashLength = 64;

    public static bool IsHashed(ReadOnlySpan<char> fileName)
    {
        int first = fileName.IndexOf('.');
        int last = fileName.LastIndexOf('.');
        if (first <= 0 || first == last)
        {
            return false; // no name before the first dot, or nothing between the name and the extension
        }
        ReadOnlySpan<char> middle = fileName[(first + 1)..last];
        foreach (Range range in middle.Split('.'))
        {
            ReadOnlySpan<char> part = middle[range];
            if (part.Length is >= MinHashLength and <= MaxHashLength && !part.ContainsAnyExcept("0123456789abcdefABCDEF"))
            {
                return true;
            }
        }
        return false;
    }
}
