using System;
using System.Globalization;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.Parsing;

/// <summary>Unsigned 64-bit numbers as people write them on a command line or in a page file: decimal, or hex with
/// a 0x prefix; '_' may separate digit groups (0x0000_0080_0000_0000).</summary>
internal static class NumberParser
{
    /// <summary>Parses decimal or 0x-hex text. False on empty text, stray characters or overflow.</summary>
    public static bool TryParseUnsigned(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        bool hex = text.Length > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
        if (hex) text = text[2..];
        if (text.IsEmpty || text[0] == '_' || text[^1] == '_') return false;
        ulong radix = hex ? 16UL : 10UL;
        bool anyDigit = false;
        foreach (char c in text)
        {
            if (c == '_') continue;
            int digit = DigitValue(c, hex);
            if (digit < 0) return false;
            anyDigit = true;
            ulong shifted;
            try
            {
                shifted = checked(value * radix + (ulong)digit);
            }
            catch (OverflowException)
            {
                return false;
            }
            value = shifted;
        }
        return anyDigit;
    }

    private static int DigitValue(char c, bool hex)
    {
        if (c is >= '0' and <= '9') return c - '0';
        if (!hex) return -1;
        if (c is >= 'a' and <= 'f') return c - 'a' + 10;
        if (c is >= 'A' and <= 'F') return c - 'A' + 10;
        return -1;
    }

    /// <summary>Parses a whole number from <paramref name="minimum"/> to <paramref name="maximum"/> (decimal, '_'
    /// between digit groups allowed); on failure <paramref name="error"/> says why, quoting the text.</summary>
    public static bool TryParseWhole(string? text, long minimum, long maximum, out long value, out string error)
    {
        string quoted = TextFormat.Quote(text ?? "");
        string range = minimum == 0 && maximum == long.MaxValue ? "0 or more"
            : maximum == long.MaxValue ? FormattableString.Invariant($"{minimum:N0} or more")
            : FormattableString.Invariant($"from {minimum:N0} to {maximum:N0}");
        string digits = (text ?? "").Trim().Replace("_", "", StringComparison.Ordinal);
        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            bool tooLarge = digits.Length > 1 && digits.AsSpan(digits[0] == '-' ? 1 : 0).IndexOfAnyExceptInRange('0', '9') < 0;
            error = tooLarge ? $"{quoted} is out of range ({range})" : $"{quoted} is not a whole number ({range})";
            return false;
        }
        if (value < minimum || value > maximum)
        {
            error = minimum == 0 && value < 0 ? $"{quoted} must not be negative" : $"{quoted} is out of range ({range})";
            return false;
        }
        error = string.Empty;
        return true;
    }

    /// <summary>Hexadecimal with a 0x prefix, as addresses are shown.</summary>
    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
