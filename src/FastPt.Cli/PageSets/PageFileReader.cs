using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.PageSets;

/// <summary>Reads page files: one 4 KiB page index per line, decimal or 0x-hex; blank lines and '#' comments are
/// ignored. A gzip file is recognised by its magic bytes (0x1f 0x8b), whatever its name.</summary>
public static class PageFileReader
{
    private const int ProgressEveryLines = 1 << 16;

    /// <summary>Reads <paramref name="path"/>. Every page must be below <paramref name="pageLimit"/>; the first
    /// line that breaks a rule ends the read with a <see cref="PageFileException"/> naming the line.</summary>
    /// <param name="path">The file.</param>
    /// <param name="pageLimit">Exclusive upper bound of valid page indices.</param>
    /// <param name="describeLimit">Explains the bound in the error message for an index at or above it.</param>
    /// <param name="progress">Called now and then with (bytes of the file read, file length).</param>
    public static PageSet Read(string path, ulong pageLimit, Func<ulong, string> describeLimit, Action<long, long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(describeLimit);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new PageFileException($"{path}: {exception.Message}", exception);
        }
        using (file)
        {
            try
            {
                return Read(file, path, pageLimit, describeLimit, progress);
            }
            catch (InvalidDataException exception)
            {
                throw new PageFileException($"{path}: not a valid gzip file: {exception.Message}", exception);
            }
        }
    }

    private static PageSet Read(FileStream file, string path, ulong pageLimit, Func<ulong, string> describeLimit, Action<long, long>? progress)
    {
        bool gzip = IsGzip(file);
        using var decompressed = new CountingStream(gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file);
        using var reader = new StreamReader(decompressed, leaveOpen: true);
        var pages = new List<ulong>();
        long length = file.Length;
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (progress is not null && lineNumber % ProgressEveryLines == 0) progress(file.Position, length);
            ReadOnlySpan<char> text = line.AsSpan();
            int comment = text.IndexOf('#');
            if (comment >= 0) text = text[..comment];
            text = text.Trim();
            if (text.IsEmpty) continue;
            if (!NumberParser.TryParseUnsigned(text, out ulong page))
            {
                if (TextFormat.LooksBinary(line))
                    throw new PageFileException(path, lineNumber, "this is not text: the file looks binary, not a page file (one page index per line)");
                throw new PageFileException(path, lineNumber, $"{TextFormat.Quote(text)} is not a page index (decimal or 0x-hex)");
            }
            if (page >= pageLimit)
                throw new PageFileException(path, lineNumber, $"page {TextFormat.Quote(text)} is outside the user range: {describeLimit(page)}");
            pages.Add(page);
        }
        if (gzip) CheckGzipLength(file, path, decompressed.BytesRead);
        progress?.Invoke(length, length);
        return PageSet.FromIndices(pages);
    }

    /// <summary>.NET's GZipStream ends quietly at a truncated file, which could also cut the last line short. The
    /// gzip trailer ends with the uncompressed size modulo 2^32: a mismatch means the file is incomplete.</summary>
    private static void CheckGzipLength(FileStream file, string path, long decompressedBytes)
    {
        const int MinimumGzipLength = 18;   // 10-byte header, 8-byte trailer
        if (file.Length < MinimumGzipLength) throw new PageFileException($"{path}: the gzip file is truncated: it has only {file.Length} bytes");
        Span<byte> trailer = stackalloc byte[4];
        file.Position = file.Length - trailer.Length;
        file.ReadExactly(trailer);
        uint recorded = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (recorded != (uint)decompressedBytes)
        {
            // The last bytes are only a trailer when the file is whole, so their value is not worth showing.
            throw new PageFileException(FormattableString.Invariant(
                $"{path}: the gzip file is truncated or corrupt: decompression ended after {decompressedBytes:N0} bytes without the gzip trailer that matches them ")
                + "(a multi-member gzip file also shows this: decompress it first)");
        }
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }
}
