using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace FastPt.Cli.PageSets;

/// <summary>A file given as input (a page file, a lackey trace), plain or gzip — recognised by its magic bytes
/// (0x1f 0x8b), whatever its name — read as one stream of its content; a pipe (<c>/dev/stdin</c>,
/// <c>&lt;(zcat …)</c>) as well as a file. It counts the content read, turns every failure into the reader's own
/// exception (through the factory it was opened with) with the path in the message, and ends a gzip file with a
/// check that it was whole: .NET's GZipStream ends quietly at a truncated file, which would otherwise cut the last
/// line short.</summary>
internal sealed class InputFile : ReadOnlyStream
{
    private const int MinimumGzipLength = 18;   // 10-byte header, 8-byte trailer

    private readonly FileStream _file;
    private readonly RawStream _raw;
    private readonly Stream _content;
    private readonly Func<string, Exception?, Exception> _error;
    private bool _checked;

    private InputFile(FileStream file, string path, Func<string, Exception?, Exception> error)
    {
        _file = file;
        _error = error;
        PathName = path;
        _raw = new RawStream(file);
        IsGzip = _raw.StartsWithGzipMagic();
        _content = IsGzip ? new GZipStream(_raw, CompressionMode.Decompress, leaveOpen: true) : _raw;
    }

    /// <summary>The path as given.</summary>
    public string PathName { get; }

    /// <summary>True when the file is gzip.</summary>
    public bool IsGzip { get; }

    /// <summary>Bytes of the file consumed (compressed for gzip), for progress.</summary>
    public long FilePosition => _raw.BytesRead;

    /// <summary>Length of the file in bytes; 0 for a pipe, whose length is not known before its end.</summary>
    public long FileLength => _file.CanSeek ? _file.Length : 0;

    /// <summary>Opens <paramref name="path"/>; a file that cannot be opened throws what <paramref name="error"/>
    /// makes of the message ("PATH: why") and the exception underneath.</summary>
    public static InputFile Open(string path, int bufferSize, Func<string, Exception?, Exception> error)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(error);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw error($"{path}: {exception.Message}", exception);
        }
        try
        {
            return new InputFile(file, path, error);
        }
        catch (IOException exception)
        {
            file.Dispose();
            throw error($"{path}: {exception.Message}", exception);
        }
    }

    /// <summary>The content (decompressed for gzip, which <see cref="ReadOnlyStream.BytesRead"/> then counts).</summary>
    protected override int ReadCore(Span<byte> buffer)
    {
        int read;
        try
        {
            read = _content.Read(buffer);
        }
        catch (InvalidDataException exception)
        {
            throw _error($"{PathName}: not a valid gzip file: {exception.Message}", exception);
        }
        catch (IOException exception)
        {
            throw _error($"{PathName}: {exception.Message}", exception);
        }
        // At the end of the content, before the reader parses its last line: a truncated file would otherwise show
        // as a malformed (or silently shortened) last line.
        if (read == 0 && buffer.Length > 0 && IsGzip && !_checked)
        {
            _checked = true;
            CheckGzipLength();
        }
        return read;
    }

    /// <summary>The gzip trailer ends with the content's size modulo 2^32: a mismatch means the file is incomplete
    /// (or has several members, which GZipStream reads one of). The file is read to its end first, so that the last
    /// bytes seen are the trailer, in a pipe as in a file.</summary>
    private void CheckGzipLength()
    {
        _raw.ReadToEnd();
        if (_raw.BytesRead < MinimumGzipLength)
            throw _error($"{PathName}: the gzip file is truncated: it has only {_raw.BytesRead} bytes", null);
        uint recorded = BinaryPrimitives.ReadUInt32LittleEndian(_raw.LastFour);
        if (recorded != (uint)BytesRead)
        {
            // The last bytes are only a trailer when the file is whole, so their value is not worth showing.
            throw _error(FormattableString.Invariant(
                $"{PathName}: the gzip file is truncated or corrupt: decompression ended after {BytesRead:N0} bytes without the gzip trailer that matches them ")
                + "(a multi-member gzip file also shows this: decompress it first)", null);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (!ReferenceEquals(_content, _raw)) _content.Dispose();
            _file.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>The file's bytes as read: the two peeked to recognise gzip first (a pipe cannot seek back to them),
    /// then the rest; counted, with the last four kept for the trailer check.</summary>
    private sealed class RawStream(FileStream file) : ReadOnlyStream
    {
        private readonly byte[] _peeked = new byte[2];
        private readonly byte[] _last = new byte[4];
        private int _peekedLength;
        private int _peekedServed;

        /// <summary>The last four bytes read.</summary>
        public ReadOnlySpan<byte> LastFour => _last;

        public bool StartsWithGzipMagic()
        {
            _peekedLength = file.ReadAtLeast(_peeked, _peeked.Length, throwOnEndOfStream: false);
            return _peekedLength == 2 && _peeked[0] == 0x1f && _peeked[1] == 0x8b;
        }

        public void ReadToEnd()
        {
            Span<byte> discard = stackalloc byte[4096];
            while (Read(discard) > 0)
            {
            }
        }

        protected override int ReadCore(Span<byte> buffer)
        {
            int read;
            if (_peekedServed < _peekedLength)
            {
                read = Math.Min(buffer.Length, _peekedLength - _peekedServed);
                _peeked.AsSpan(_peekedServed, read).CopyTo(buffer);
                _peekedServed += read;
            }
            else
            {
                read = file.Read(buffer);
            }
            Remember(buffer[..read]);
            return read;
        }

        private void Remember(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length >= _last.Length)
            {
                bytes[^_last.Length..].CopyTo(_last);
                return;
            }
            _last.AsSpan(bytes.Length).CopyTo(_last);
            bytes.CopyTo(_last.AsSpan(_last.Length - bytes.Length));
        }
    }
}
