using System;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.Parsing;

/// <summary>A half-open range of virtual addresses [Start, End).</summary>
/// <param name="Start">First address.</param>
/// <param name="End">First address past the range.</param>
internal readonly record struct AddressRange(ulong Start, ulong End)
{
    /// <summary>Bytes in the range.</summary>
    public ulong Length => End - Start;

    /// <summary>Readable form: START-END in hex.</summary>
    public override string ToString() => $"{NumberParser.Hex(Start)}-{NumberParser.Hex(End)}";

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
        if (isLength && (second == 0 || end < start))
        {
            error = second == 0 ? $"range {quoted} is empty" : $"range {quoted} wraps past the top of the address space";
            return false;
        }
        if (end <= start)
        {
            error = $"range {quoted}: the end must lie above the start";
            return false;
        }
        range = new AddressRange(start, end);
        error = string.Empty;
        return true;
    }
}
