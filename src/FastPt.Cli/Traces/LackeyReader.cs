using System;
using System.Globalization;
using System.Text;
using FastPt.Cli.PageSets;

namespace FastPt.Cli.Traces;

/// <summary>What a lackey line records: <c>I</c> an instruction fetch, <c>L</c> a load, <c>S</c> a store, <c>M</c> a
/// modify (a load and a store of the same bytes).</summary>
internal enum LackeyKind : byte
{
    /// <summary><c>I</c>: an instruction fetch.</summary>
    Instruction,

    /// <summary><c>L</c>: a data load.</summary>
    Load,

    /// <summary><c>S</c>: a data store.</summary>
    Store,

    /// <summary><c>M</c>: a data modify (read, then written).</summary>
    Modify,
}

/// <summary>One access of a lackey trace.</summary>
/// <param name="Kind">What the access does.</param>
/// <param name="Address">Its first byte.</param>
/// <param name="Size">Its size in bytes (at least 1).</param>
internal readonly record struct LackeyAccess(LackeyKind Kind, ulong Address, uint Size)
{
    /// <summary>Its last byte.</summary>
    public ulong LastByte => Address + Size - 1;
}

/// <summary>A lackey trace is malformed at a line.</summary>
internal sealed class LackeyFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LackeyFormatException() { }

    /// <summary>Creates the exception with a message.</summary>
    public LackeyFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    public LackeyFormatException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for line <paramref name="line"/> of <paramref name="path"/>.</summary>
    public LackeyFormatException(string path, long line, string message) : this($"{path}:{line}: {message}", line) { }

    /// <summary>Creates the exception for line <paramref name="line"/> with the whole <paramref name="message"/>.</summary>
    public LackeyFormatException(string message, long line) : base(message) => Line = line;

    /// <summary>The 1-based line number, or 0 when the error is not about a line.</summary>
    public long Line { get; }
}

/// <summary>Reads a memory-access trace in the format of valgrind's lackey tool
/// (<c>valgrind --tool=lackey --trace-mem=yes PROGRAM</c>) as a stream: <c>I  addr,size</c>, <c> L addr,size</c>,
/// <c> S addr,size</c> and <c> M addr,size</c> with the address in hex and the size in decimal; lines starting with
/// <c>==</c> (valgrind's own messages) and blank lines are skipped. Plain text or gzip (recognised by its magic bytes),
/// read through a fixed buffer: memory does not grow with the trace. A malformed line throws a
/// <see cref="LackeyFormatException"/> naming it, or, with skip-bad, is counted and passed over.</summary>
internal sealed class LackeyReader : IDisposable
{
    /// <summary>Longest line accepted (lackey's are under 40 bytes).</summary>
    public const int MaximumLineLength = 4096;

    /// <summary>Largest access size accepted: 1 MiB (lackey reports operand sizes, the largest a few KiB for
    /// <c>xsave</c>); anything larger is a corrupt line.</summary>
    public const uint MaximumSize = 1u << 20;

    private const int BufferSize = 1 << 16;
    private readonly InputFile _input;
    private readonly bool _skipBad;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _start;
    private int _end;
    private bool _endOfInput;

    private LackeyReader(InputFile input, string path, bool skipBad)
    {
        _input = input;
        Path = path;
        _skipBad = skipBad;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Lines read so far.</summary>
    public long Lines { get; private set; }

    /// <summary>Lines skipped: valgrind's <c>==</c> messages and blank lines.</summary>
    public long SkippedLines { get; private set; }

    /// <summary>Malformed lines passed over (only with skip-bad; otherwise the first one throws).</summary>
    public long BadLines { get; private set; }

    /// <summary>The first malformed line passed over, as the error it would have been; null when there was none.</summary>
    public string? FirstBadLine { get; private set; }

    /// <summary>Bytes of the file consumed (compressed bytes for gzip), for progress.</summary>
    public long FilePosition => _input.FilePosition;

    /// <summary>Length of the file in bytes.</summary>
    public long FileLength => _input.FileLength;

    /// <summary>Opens <paramref name="path"/>; with <paramref name="skipBad"/> malformed lines are counted and skipped
    /// instead of ending the read.</summary>
    public static LackeyReader Open(string path, bool skipBad)
    {
        ArgumentNullException.ThrowIfNull(path);
        InputFile input = InputFile.Open(path, BufferSize,
            static (message, inner) => inner is null ? new LackeyFormatException(message) : new LackeyFormatException(message, inner));
        return new LackeyReader(input, path, skipBad);
    }

    /// <summary>Fills <paramref name="batch"/> with the next accesses in trace order and returns how many; 0 at the end
    /// of the trace.</summary>
    public int Read(Span<LackeyAccess> batch)
    {
        int count = 0;
        while (count < batch.Length && NextLine(out ReadOnlySpan<byte> line))
        {
            Lines++;
            if (TryParse(line, out LackeyAccess access, out string? error)) batch[count++] = access;
            else if (error is null) SkippedLines++;
            else if (_skipBad)
            {
                BadLines++;
                FirstBadLine ??= Describe(line, error);
            }
            // A binary file fails at its first line; listing its bytes (or suggesting to skip them) helps nobody.
            else if (LooksBinary(line)) throw new LackeyFormatException($"{Path}:{Lines}: this is not text: the file looks binary, not a lackey trace");
            else throw new LackeyFormatException(Describe(line, error), Lines);
        }
        return count;
    }

    /// <summary>True for a line with control bytes no text has (NUL to BS, SO to US; tab and CR are text).</summary>
    private static bool LooksBinary(ReadOnlySpan<byte> line) =>
        line.IndexOfAnyInRange((byte)0x00, (byte)0x08) >= 0 || line.IndexOfAnyInRange((byte)0x0e, (byte)0x1f) >= 0;

    private string Describe(ReadOnlySpan<byte> line, string error)
    {
        // Quoted with control bytes escaped: a binary file given as a trace must not write raw bytes to the terminal.
        string text = Encoding.Latin1.GetString(line.Length > 81 ? line[..81] : line);
        return $"{Path}:{Lines}: {error}: {Rendering.TextFormat.Quote(text, 80)}";
    }

    /// <summary>Parses one line: true with the access; false with a null <paramref name="error"/> for a line to skip
    /// (<c>==</c> or blank), or with the reason the line is malformed.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out LackeyAccess access, out string? error)
    {
        access = default;
        error = null;
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        int i = 0;
        while (i < line.Length && line[i] == (byte)' ') i++;
        if (i == line.Length) return false;
        if (i == 0 && line.Length >= 2 && line[0] == (byte)'=' && line[1] == (byte)'=') return false;
        LackeyKind kind;
        switch (line[i])
        {
            case (byte)'I': kind = LackeyKind.Instruction; break;
            case (byte)'L': kind = LackeyKind.Load; break;
            case (byte)'S': kind = LackeyKind.Store; break;
            case (byte)'M': kind = LackeyKind.Modify; break;
            default:
                error = "not a lackey access line (I, L, S or M, address, size)";
                return false;
        }
        i++;
        int spaces = i;
        while (i < line.Length && line[i] == (byte)' ') i++;
        if (i == spaces)
        {
            error = "no space after the access kind";
            return false;
        }
        ulong address = 0;
        int digits = 0;
        for (; i < line.Length && HexValue(line[i]) is int digit and >= 0; i++, digits++)
        {
            if (digits == 16)
            {
                error = "the address has more than 16 hex digits";
                return false;
            }
            address = (address << 4) | (uint)digit;
        }
        if (digits == 0)
        {
            error = "no hexadecimal address";
            return false;
        }
        if (i == line.Length || line[i] != (byte)',')
        {
            error = "no ',' between address and size";
            return false;
        }
        i++;
        ulong size = 0;
        int sizeDigits = 0;
        for (; i < line.Length && line[i] is >= (byte)'0' and <= (byte)'9'; i++, sizeDigits++)
        {
            size = size * 10 + (uint)(line[i] - '0');
            if (size > MaximumSize)
            {
                error = string.Create(CultureInfo.InvariantCulture, $"the size is larger than {MaximumSize} bytes");
                return false;
            }
        }
        if (sizeDigits == 0)
        {
            error = "no decimal size";
            return false;
        }
        while (i < line.Length && line[i] is (byte)' ' or (byte)'\t') i++;
        if (i != line.Length)
        {
            error = "unexpected text after the size";
            return false;
        }
        if (size == 0)
        {
            error = "the size is 0";
            return false;
        }
        if (address + (size - 1) < address)
        {
            error = "the access runs past the end of the address space";
            return false;
        }
        access = new LackeyAccess(kind, address, (uint)size);
        return true;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>The next line without its '\n', from the buffer, refilled as needed.</summary>
    private bool NextLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                line = _buffer.AsSpan(_start, newline);
                _start += newline + 1;
                return true;
            }
            if (_endOfInput)
            {
                if (_start == _end)
                {
                    line = default;
                    return false;
                }
                line = _buffer.AsSpan(_start, _end - _start);   // the last line, without '\n'
                _start = _end;
                return true;
            }
            if (_end - _start > MaximumLineLength)
                throw new LackeyFormatException(Path, Lines + 1, $"the line is longer than {MaximumLineLength} bytes: not a lackey trace");
            Fill();
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        // The input checks a gzip file is whole when it ends, before the last line is parsed.
        int read = _input.Read(_buffer, _end, _buffer.Length - _end);
        _end += read;
        if (read == 0) _endOfInput = true;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _input.Dispose();
}
