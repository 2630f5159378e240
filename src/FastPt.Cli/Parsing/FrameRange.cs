using System;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.Parsing;

/// <summary>A half-open range of page frames [Start, End), as <c>fastpt kpageflags</c> takes it.</summary>
/// <param name="Start">First frame.</param>
/// <param name="End">First frame past the range.</param>
internal readonly record struct FrameRange(ulong Start, ulong End)
{
    /// <summary>Frames in the range.</summary>
    public ulong Count => End - Start;

    /// <summary>Readable form: START-END in hex.</summary>
    public override string ToString() => $"{NumberParser.Hex(Start)}-{NumberParser.Hex(End)}";

    /// <summary>Parses PFN (one frame), START-END (END exclusive) or START+COUNT; each number decimal or 0x-hex.</summary>
    public static bool TryParse(string? text, out FrameRange range, out string error)
    {
        range = default;
        ReadOnlySpan<char> span = (text ?? string.Empty).AsSpan().Trim();
        string quoted = TextFormat.Quote(text ?? string.Empty);
        int separator = span.IndexOfAny('-', '+');
        ReadOnlySpan<char> first = separator < 0 ? span : span[..separator].Trim();
        if (!NumberParser.TryParseUnsigned(first, out ulong start))
        {
            error = $"{quoted} is not a frame number or range: use PFN, START-END or START+COUNT (decimal or 0x-hex, for example 0x40000+512)";
            return false;
        }
        if (separator < 0)
        {
            if (start == ulong.MaxValue)
            {
                error = $"frame {quoted} is past the largest frame number";
                return false;
            }
            range = new FrameRange(start, start + 1);
            error = string.Empty;
            return true;
        }
        bool isCount = span[separator] == '+';
        if (!NumberParser.TryParseUnsigned(span[(separator + 1)..].Trim(), out ulong second))
        {
            error = $"range {quoted}: bad {(isCount ? "count" : "end")}: give a decimal or 0x-hex number";
            return false;
        }
        if (isCount && (second == 0 || start + second < start))
        {
            error = second == 0 ? $"range {quoted} is empty" : $"range {quoted} runs past the largest frame number";
            return false;
        }
        ulong end = isCount ? start + second : second;
        if (end <= start)
        {
            error = $"range {quoted}: the end (exclusive) must lie above the start";
            return false;
        }
        range = new FrameRange(start, end);
        error = string.Empty;
        return true;
    }
}
