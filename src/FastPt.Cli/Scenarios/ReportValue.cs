using System;
using System.Globalization;

namespace FastPt.Cli.Scenarios;

/// <summary>What a <see cref="ReportValue"/> holds.</summary>
public enum ReportValueKind
{
    /// <summary>Free text.</summary>
    Text,

    /// <summary>A whole number.</summary>
    WholeNumber,

    /// <summary>A real number.</summary>
    RealNumber,

    /// <summary>A duration.</summary>
    Duration,
}

/// <summary>One value of a report: a number, a duration or text, kept typed so that a JSON report carries numbers
/// as numbers while a console report formats them for people.</summary>
public readonly struct ReportValue : IEquatable<ReportValue>
{
    private readonly long _wholeNumber;
    private readonly double _realNumber;
    private readonly string? _text;

    private ReportValue(ReportValueKind kind, long integer, double real, string? text)
    {
        Kind = kind;
        _wholeNumber = integer;
        _realNumber = real;
        _text = text;
    }

    /// <summary>What the value holds.</summary>
    public ReportValueKind Kind { get; }

    /// <summary>The whole number (<see cref="ReportValueKind.WholeNumber"/>).</summary>
    public long WholeNumber => _wholeNumber;

    /// <summary>The real number (<see cref="ReportValueKind.RealNumber"/>), or the duration in milliseconds
    /// (<see cref="ReportValueKind.Duration"/>).</summary>
    public double RealNumber => _realNumber;

    /// <summary>The text (<see cref="ReportValueKind.Text"/>).</summary>
    public string Text => _text ?? string.Empty;

    /// <summary>A whole number.</summary>
    public static ReportValue FromWholeNumber(long value) => new(ReportValueKind.WholeNumber, value, value, null);

    /// <summary>A real number.</summary>
    public static ReportValue FromRealNumber(double value) => new(ReportValueKind.RealNumber, 0, value, null);

    /// <summary>A duration, kept in milliseconds.</summary>
    public static ReportValue FromDuration(TimeSpan value) => new(ReportValueKind.Duration, 0, value.TotalMilliseconds, null);

    /// <summary>Text.</summary>
    public static ReportValue FromText(string value) => new(ReportValueKind.Text, 0, 0, value);

    /// <summary>The value as people read it: digit groups for integers, three significant decimals for reals,
    /// a unit for durations.</summary>
    public override string ToString() => Kind switch
    {
        ReportValueKind.WholeNumber => _wholeNumber.ToString("N0", CultureInfo.InvariantCulture),
        ReportValueKind.RealNumber => FormatReal(_realNumber),
        ReportValueKind.Duration => FormatDuration(_realNumber),
        _ => Text,
    };

    private static string FormatReal(double value)
    {
        double magnitude = Math.Abs(value);
        string format = magnitude >= 1000 ? "N0" : magnitude >= 100 ? "F1" : magnitude >= 1 ? "F2" : "G3";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }

    private static string FormatDuration(double milliseconds) => milliseconds switch
    {
        >= 10_000 => (milliseconds / 1000).ToString("F1", CultureInfo.InvariantCulture) + " s",
        >= 1000 => (milliseconds / 1000).ToString("F2", CultureInfo.InvariantCulture) + " s",
        >= 10 => milliseconds.ToString("F1", CultureInfo.InvariantCulture) + " ms",
        >= 1 => milliseconds.ToString("F2", CultureInfo.InvariantCulture) + " ms",
        _ => (milliseconds * 1000).ToString("F1", CultureInfo.InvariantCulture) + " µs",
    };

    /// <inheritdoc/>
    public bool Equals(ReportValue other) =>
        Kind == other.Kind && _wholeNumber == other._wholeNumber && _realNumber.Equals(other._realNumber) && string.Equals(_text, other._text, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ReportValue other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, _wholeNumber, _realNumber, _text);

    /// <summary>Equality.</summary>
    public static bool operator ==(ReportValue left, ReportValue right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(ReportValue left, ReportValue right) => !left.Equals(right);
}
