using System;
using System.Globalization;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.Parsing;

/// <summary>Parses byte sizes: a plain number of bytes (decimal or 0x-hex), or a decimal number with a binary
/// suffix K, M, G, T, P or E (optionally followed by "iB" or "B"; any case): 512M, 64G, 1T, 4KiB, 0x40000000.</summary>
internal static class SizeParser
{
    private const string SizeExamples = "for example 512M, 64G, 1T or a number of bytes";
    private const string AddressExamples = "0x-hex or decimal, or a size such as 4G; for example 0x7f0000000000";

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? text, out ulong bytes, out string error) => TryParse(text, "a size", SizeExamples, out bytes, out error);

    /// <summary>Parses an address written as a number or as a size (4G = 0x100000000); on failure
    /// <paramref name="error"/> says why, calling it an address.</summary>
    public static bool TryParseAddress(string? text, out ulong address, out string error) =>
        TryParse(text, "an address", AddressExamples, out address, out error);

    private static bool TryParse(string? text, string noun, string examples, out ulong bytes, out string error)
    {
        bytes = 0;
        error = string.Empty;
        ReadOnlySpan<char> span = (text ?? string.Empty).AsSpan().Trim();
        string quoted = TextFormat.Quote(text ?? string.Empty);
        if (span.IsEmpty)
        {
            error = $"{noun} is required ({examples})";
            return false;
        }
        if (span.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            if (NumberParser.TryParseUnsigned(span, out bytes)) return true;
            error = $"{quoted} is not {noun}: a 0x-hex number has only hex digits and no unit";
            return false;
        }

        int digits = 0;
        while (digits < span.Length && (char.IsAsciiDigit(span[digits]) || span[digits] == '_')) digits++;
        ReadOnlySpan<char> number = span[..digits];
        ReadOnlySpan<char> suffix = span[digits..].Trim();
        if (digits == 0 || !NumberParser.TryParseUnsigned(number, out ulong count))
        {
            error = $"{quoted} is not {noun} ({examples})";
            return false;
        }
        if (suffix.Length > 1 && suffix[0] == '.' && char.IsAsciiDigit(suffix[1]))
        {
            error = Fraction(quoted, number, suffix);
            return false;
        }
        if (!TryShift(suffix, out int shift))
        {
            error = $"{quoted} has an unknown unit {TextFormat.Quote(suffix)} (use K, M, G, T, P or E, optionally with B or iB)";
            return false;
        }
        if (shift > 0 && count > ulong.MaxValue >> shift)
        {
            error = $"{quoted} is too large";
            return false;
        }
        bytes = count << shift;
        return true;
    }

    /// <summary>Why 1.5G is refused, with the whole number to write instead when there is one (1536M).</summary>
    private static string Fraction(string quoted, ReadOnlySpan<char> number, ReadOnlySpan<char> suffix)
    {
        int fractionDigits = 1;
        while (fractionDigits < suffix.Length && char.IsAsciiDigit(suffix[fractionDigits])) fractionDigits++;
        string decimalText = number.ToString().Replace("_", "", StringComparison.Ordinal) + suffix[..fractionDigits].ToString();
        bool known = TryShift(suffix[fractionDigits..].Trim(), out int shift);
        if (known && decimal.TryParse(decimalText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value)
            && value < (decimal)(ulong.MaxValue >> shift))
        {
            decimal bytes = value * (1UL << shift);
            if (bytes > 0 && bytes == decimal.Truncate(bytes))
                return $"{quoted} is not a whole number: sizes are whole numbers of a unit, write {Format((ulong)bytes)}";
        }
        return $"{quoted} is not a whole number: sizes are whole numbers of a unit (K, M, G, T, P or E) or of bytes";
    }

    /// <summary>Parses <paramref name="text"/> or throws <see cref="FormatException"/> with the reason.</summary>
    public static ulong Parse(string text)
    {
        if (!TryParse(text, out ulong bytes, out string error)) throw new FormatException(error);
        return bytes;
    }

    private static bool TryShift(ReadOnlySpan<char> suffix, out int shift)
    {
        shift = 0;
        if (suffix.IsEmpty || suffix.Equals("B", StringComparison.OrdinalIgnoreCase)) return true;
        int unit = char.ToUpperInvariant(suffix[0]) switch
        {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            'P' => 50,
            'E' => 60,
            _ => -1,
        };
        if (unit < 0) return false;
        ReadOnlySpan<char> rest = suffix[1..];
        if (!rest.IsEmpty && !rest.Equals("B", StringComparison.OrdinalIgnoreCase) && !rest.Equals("iB", StringComparison.OrdinalIgnoreCase))
            return false;
        shift = unit;
        return true;
    }

    /// <summary>A size as people read it: the largest binary unit that divides it, else bytes (64G, 512M, 4097 B).</summary>
    public static string Format(ulong bytes)
    {
        if (bytes == 0) return "0 B";
        string[] units = ["E", "P", "T", "G", "M", "K"];
        for (int i = 0; i < units.Length; i++)
        {
            int shift = 60 - 10 * i;
            if (bytes >= 1UL << shift && (bytes & ((1UL << shift) - 1)) == 0)
                return (bytes >> shift).ToString(CultureInfo.InvariantCulture) + units[i];
        }
        return bytes.ToString(CultureInfo.InvariantCulture) + " B";
    }
}
