using System;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.Parsing;

/// <summary>A half-open range of virtual addresses [Start, End).</summary>
/// <param name="Start">First address.</param>
/// <param name="End">First address past the range; 0 for a range that ends at 2^64 (the top page).</param>
internal readonly record struct AddressRange(ulong Start, ulong End)
{
    /// <summary>Bytes in the range (64-bit arithmetic: right for an end of 0, 2^64).</summary>
    public ulong Length => End - Start;

    /// <summary>Readable form: START-END in hex (2^64 written out as 0x10000000000000000).</summary>
    public override string ToString() => $"{NumberParser.Hex(Start)}-{(End == 0 ? "0x10000000000000000" : NumberParser.Hex(End))}";

    /// <summary>Parses START-END or START+LENGTH. Each part is a 0x-hex or decimal number, or a size such as 4G;
    /// the end is exclusive and must lie above the start.</summary>
    public static bool TryParse(string? text, out AddressRange range, out string error)
    {
        range = default;
        ReadOnlySpan<char> span = (text ?? string.Empty).AsSpan().Trim();
        string quoted = TextFormat.Quote(text ?? string.Empty);
        int separator = span.Length > 1 ? span[1..].IndexOfAny('-', '+') : -1;
        if (separator < 0)
        {
            error = $"{quoted} is not a range: use START-END or START+LENGTH (for example 0xffff888000000000+4G)";
            return false;
        }
        separator++;
        bool isLength = span[separator] == '+';
        string startText = span[..separator].Trim().ToString();
        string endText = span[(separator + 1)..].Trim().ToString();
        if (!SizeParser.TryParseAddress(startText, out ulong start, out string startError))
        {
            error = $"range {quoted}: bad start: {startError}";
            return false;
        }
        bool parsed = isLength ? SizeParser.TryParse(endText, out ulong second, out string secondError)
            : SizeParser.TryParseAddress(endText, out second, out secondError);
        if (!parsed)
        {
            error = $"range {quoted}: bad {(isLength ? "length" : "end")}: {secondError}";
            return false;
        }
        ulong end = isLength ? start + second : second;
        // START+LENGTH may end exactly at 2^64 (an end of 0: the top page); only past it does it wrap.
        if (isLength && (second == 0 || second - 1 > ulong.MaxValue - start))
        {
            error = second == 0 ? $"range {quoted} is empty" : $"range {quoted} runs past 2^64, the top of the address space";
            return false;
        }
        if (!(isLength && end == 0) && end <= start)
        {
            error = $"range {quoted}: the end must lie above the start";
            return false;
        }
        range = new AddressRange(start, end);
        error = string.Empty;
        return true;
    }
}
