using System;
using System.IO;

namespace FastPt.Cli.PageSets;

/// <summary>A forward-only stream that is read and never written or sought, counting what it hands out: the
/// <see cref="Stream"/> members such a stream answers the same way, in one place.</summary>
internal abstract class ReadOnlyStream : Stream
{
    /// <summary>Bytes handed out so far.</summary>
    public long BytesRead { get; private set; }

    public sealed override bool CanRead => true;

    public sealed override bool CanSeek => false;

    public sealed override bool CanWrite => false;

    public sealed override long Length => throw new NotSupportedException();

    public sealed override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    public sealed override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public sealed override int Read(Span<byte> buffer)
    {
        int read = ReadCore(buffer);
        BytesRead += read;
        return read;
    }

    /// <summary>Reads into <paramref name="buffer"/>; 0 at the end.</summary>
    protected abstract int ReadCore(Span<byte> buffer);

    public sealed override void Flush()
    {
    }

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public sealed override void SetLength(long value) => throw new NotSupportedException();

    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
