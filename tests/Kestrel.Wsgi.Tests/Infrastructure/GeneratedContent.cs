using System.Net;
using System.Security.Cryptography;

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>Deterministic pseudo-random bytes, generated on the fly in 1 MiB blocks.</summary>
public static class DataPattern
{
    public const int BlockSize = 1024 * 1024;

    private static readonly byte[] s_base = CreateBase();

    private static byte[] CreateBase()
    {
        var b = new byte[BlockSize];
        new Random(1234).NextBytes(b);
        return b;
    }

    /// <summary>Block <paramref name="index"/>: the base block XOR a per-block byte, so blocks differ.</summary>
    public static void FillBlock(long index, byte[] dest)
    {
        byte k = (byte)(index * 31 + 7);
        for (int i = 0; i < BlockSize; i++)
        {
            dest[i] = (byte)(s_base[i] ^ k);
        }
    }

    public static string Sha256Hex(long totalBytes)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var block = new byte[BlockSize];
        long remaining = totalBytes;
        for (long i = 0; remaining > 0; i++)
        {
            FillBlock(i, block);
            int n = (int)Math.Min(BlockSize, remaining);
            h.AppendData(block, 0, n);
            remaining -= n;
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }
}

/// <summary>A request body of <see cref="DataPattern"/> bytes, streamed (never held whole in memory).</summary>
public sealed class GeneratedContent(long totalBytes, bool chunked, int writeSize = 64 * 1024) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var block = new byte[DataPattern.BlockSize];
        long remaining = totalBytes;
        for (long i = 0; remaining > 0; i++)
        {
            DataPattern.FillBlock(i, block);
            int inBlock = (int)Math.Min(DataPattern.BlockSize, remaining);
            for (int off = 0; off < inBlock; off += writeSize)
            {
                await stream.WriteAsync(block.AsMemory(off, Math.Min(writeSize, inBlock - off)));
            }
            remaining -= inBlock;
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = chunked ? 0 : totalBytes;
        return !chunked;
    }
}

/// <summary>Given bytes sent chunked, in small flushed pieces (so chunk boundaries fall anywhere).</summary>
public sealed class PiecewiseChunkedContent(byte[] data, int pieceSize) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        for (int off = 0; off < data.Length; off += pieceSize)
        {
            await stream.WriteAsync(data.AsMemory(off, Math.Min(pieceSize, data.Length - off)));
            await stream.FlushAsync();
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
