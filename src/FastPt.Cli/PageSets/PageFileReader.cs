using System;
using System.Collections.Generic;
using System.IO;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.PageSets;

/// <summary>Reads page files: one 4 KiB page index per line, decimal or 0x-hex; blank lines and '#' comments are
/// ignored. A gzip file is recognised by its magic bytes (0x1f 0x8b), whatever its name.</summary>
public static class PageFileReader
{
    private const int ProgressEveryLines = 1 << 16;

    /// <summary>Longest line accepted. A page index with a comment fits many times over; a longer line (a file without
    /// line breaks, <c>/dev/zero</c>) is not a page file, and reading it whole would fill memory.</summary>
    public const int MaximumLineLength = 4096;

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
        using InputFile file = InputFile.Open(path, 1 << 16, static (message, inner) => inner is null ? new PageFileException(message) : new PageFileException(message, inner));
        using var reader = new StreamReader(file, leaveOpen: true);
        var pages = new List<ulong>();
        long length = file.FileLength;
        long lineNumber = 0;
        var lines = new LineReader(reader, MaximumLineLength);
        while (lines.TryRead(out ReadOnlySpan<char> line, out bool tooLong))
        {
            lineNumber++;
            if (progress is not null && lineNumber % ProgressEveryLines == 0) progress(file.FilePosition, length);
            if (tooLong)
            {
                throw new PageFileException(path, lineNumber, TextFormat.LooksBinary(line) ? NotText
                    : FormattableString.Invariant($"{TextFormat.Quote(line)} is not a page index: the line is longer than {MaximumLineLength:N0} characters (one page index per line)"));
            }
            ReadOnlySpan<char> text = line;
            int comment = text.IndexOf('#');
            if (comment >= 0) text = text[..comment];
            text = text.Trim();
            if (text.IsEmpty) continue;
            if (!NumberParser.TryParseUnsigned(text, out ulong page))
            {
                if (TextFormat.LooksBinary(line))
                    throw new PageFileException(path, lineNumber, NotText);
                throw new PageFileException(path, lineNumber, $"{TextFormat.Quote(text)} is not a page index (decimal or 0x-hex)");
            }
            if (page >= pageLimit)
                throw new PageFileException(path, lineNumber, $"page {TextFormat.Quote(text)} is outside the user range: {describeLimit(page)}");
            pages.Add(page);
        }
        progress?.Invoke(length, length);
        return PageSet.FromIndices(pages);
    }

    private const string NotText = "this is not text: the file looks binary, not a page file (one page index per line)";

    /// <summary>Lines of a text, at most <paramref name="maximum"/> characters each, without their line break ('\n'
    /// or "\r\n"), read through a fixed buffer.</summary>
    private sealed class LineReader(TextReader reader, int maximum)
    {
        private readonly char[] _buffer = new char[Math.Max(2 * (maximum + 1), 1 << 16)];
        private int _start;
        private int _end;
        private bool _endOfText;

        /// <summary>The next line; <paramref name="tooLong"/> with its first <c>maximum</c> characters when it is
        /// longer than that (the reading should stop there). False at the end.</summary>
        public bool TryRead(out ReadOnlySpan<char> line, out bool tooLong)
        {
            tooLong = false;
            while (true)
            {
                ReadOnlySpan<char> buffered = _buffer.AsSpan(_start, _end - _start);
                int newline = buffered.IndexOf('\n');
                if (newline > maximum || (newline < 0 && buffered.Length > maximum))
                {
                    line = buffered[..maximum];
                    tooLong = true;
                    return true;
                }
                if (newline >= 0 || (_endOfText && buffered.Length > 0))
                {
                    int length = newline >= 0 ? newline : buffered.Length;
                    line = buffered[..length];
                    if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
                    _start += newline >= 0 ? newline + 1 : length;
                    return true;
                }
                if (_endOfText)
                {
                    line = default;
                    return false;
                }
                buffered.CopyTo(_buffer);
                _end -= _start;
                _start = 0;
                int read = reader.Read(_buffer.AsSpan(_end));
                if (read == 0) _endOfText = true;
                _end += read;
            }
        }
    }
}
