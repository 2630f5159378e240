using System;
using System.Globalization;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.Parsing;

/// <summary>Parses durations as people write them: a decimal number with a unit ms, s, m or h (500ms, 3s, 1.5m,
/// 2h), or a plain number of seconds.</summary>
internal static class DurationParser
{
    /// <summary>The longest duration accepted: a week.</summary>
    public static readonly TimeSpan Maximum = TimeSpan.FromDays(7);

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? text, out TimeSpan duration, out string error)
    {
        duration = TimeSpan.Zero;
        error = "";
        ReadOnlySpan<char> span = (text ?? "").AsSpan().Trim();
        int digits = 0;
        while (digits < span.Length && (char.IsAsciiDigit(span[digits]) || span[digits] == '.')) digits++;
        ReadOnlySpan<char> unit = span[digits..].Trim();
        if (digits == 0 || !double.TryParse(span[..digits], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
        {
            error = $"{TextFormat.Quote(text ?? "")} is not a duration (for example 500ms, 3s, 2m or 1h)";
            return false;
        }
        double? seconds = unit.ToString().ToUpperInvariant() switch
        {
            "MS" => value / 1000,
            "" or "S" => value,
            "M" or "MIN" => value * 60,
            "H" => value * 3600,
            _ => null,
        };
        if (seconds is null)
        {
            error = $"{TextFormat.Quote(text ?? "")} has an unknown unit {TextFormat.Quote(unit)} (use ms, s, m or h)";
            return false;
        }
        if (seconds.Value <= 0 || seconds.Value > Maximum.TotalSeconds)
        {
            error = $"{TextFormat.Quote(text ?? "")} must be more than 0 and at most {Maximum.TotalDays:0} days";
            return false;
        }
        duration = TimeSpan.FromSeconds(seconds.Value);
        return true;
    }
}
