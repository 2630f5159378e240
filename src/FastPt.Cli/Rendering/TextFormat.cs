using System;
using System.Globalization;
using System.IO;
using System.Text;
using Spectre.Console;

namespace FastPt.Cli.Rendering;

/// <summary>Small text helpers shared by messages and reports.</summary>
internal static class TextFormat
{
    /// <summary>Characters of user input echoed in a message before it is cut short.</summary>
    public const int EchoLimit = 40;

    private static readonly System.Buffers.SearchValues<char> s_shellSpecial = System.Buffers.SearchValues.Create(" '\"$`\\;&|<>*?()");

    /// <summary>User input as a message may echo it: in single quotes, control and non-printable characters as
    /// escapes (\x00, \u00e9 stays, \ufffd for bytes that were not text), cut after <paramref name="limit"/>
    /// characters with an ellipsis, so that a binary file cannot write raw bytes to the terminal.</summary>
    public static string Quote(ReadOnlySpan<char> text, int limit = EchoLimit)
    {
        var quoted = new StringBuilder("'");
        int shown = 0;
        foreach (char c in text)
        {
            if (shown == limit)
            {
                quoted.Append('…');
                break;
            }
            if (c == '\'') quoted.Append("\\'");
            else if (c == '\\') quoted.Append("\\\\");
            else if (c < 0x20 || c == 0x7f) quoted.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            else if (char.IsControl(c) || char.IsSurrogate(c) || c == '\ufffd' || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned)
                quoted.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            else quoted.Append(c);
            shown++;
        }
        return quoted.Append('\'').ToString();
    }

    /// <summary>True when <paramref name="text"/> holds a character no text file has: NUL, or a byte that was not
    /// valid UTF-8 (decoded as U+FFFD).</summary>
    public static bool LooksBinary(ReadOnlySpan<char> text) => text.IndexOfAny('\0', '\ufffd') >= 0;

    /// <summary>"1 run", "2 runs": <paramref name="count"/> with the singular or plural noun.</summary>
    public static string Count(long count, string singular, string? plural = null) =>
        count.ToString("N0", CultureInfo.InvariantCulture) + " " + (count == 1 ? singular : plural ?? singular + "s");

    /// <summary>A path as the user can type it from the current directory: relative when it lies below it,
    /// absolute otherwise; quoted when it holds a space or a quote.</summary>
    public static string PathForShell(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), full);
        string shown = relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full : relative;
        if (shown.AsSpan().IndexOfAny(s_shellSpecial) < 0) return shown;
        return "'" + shown.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>A rule with a title (markup) when the title fits on it; otherwise the title on its own lines
    /// (wrapped at spaces) above a plain rule, so that nothing is cut.</summary>
    public static void Heading(IAnsiConsole console, string titleMarkup)
    {
        ArgumentNullException.ThrowIfNull(console);
        int room = console.Profile.Width - 6;
        if (Markup.Remove(titleMarkup).GetCellWidth() <= room)
        {
            console.Write(new Rule(titleMarkup) { Justification = Justify.Left });
            return;
        }
        console.MarkupLine(titleMarkup);
        console.Write(new Rule());
    }
}
