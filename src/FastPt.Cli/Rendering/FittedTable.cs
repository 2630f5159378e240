using System;
using System.Collections.Generic;
using System.Linq;
using Spectre.Console;

namespace FastPt.Cli.Rendering;

/// <summary>A table that fits the console without breaking a word: every column is at least as wide as its longest
/// word (a number is one word, a right-aligned figure such as "35.5 ms" stays whole), text wraps only at spaces, and when the columns cannot all fit side by side each row
/// is shown as a list of "heading value" lines instead. Spectre alone would shrink columns below their words, cutting
/// numbers mid-digit and headers to an ellipsis. Cells, headings, title and caption are Spectre markup.</summary>
internal sealed class FittedTable
{
    // Spectre's default cell padding: one space either side.
    private const int CellPadding = 2;

    private readonly List<(string Header, bool RightAligned)> _columns = [];
    private readonly List<string[]> _rows = [];

    /// <summary>A table with a title (markup), or none.</summary>
    public FittedTable(string? title = null) => Title = title;

    /// <summary>The title above the table (markup), or null.</summary>
    public string? Title { get; set; }

    /// <summary>The caption below the table (markup), or null.</summary>
    public string? Caption { get; set; }

    /// <summary>The border; rounded by default.</summary>
    public TableBorder Border { get; set; } = TableBorder.Rounded;

    /// <summary>False for a table of facts without headings.</summary>
    public bool ShowHeaders { get; set; } = true;

    /// <summary>Number of rows.</summary>
    public int RowCount => _rows.Count;

    /// <summary>Adds a column with a heading (markup).</summary>
    public FittedTable AddColumn(string header, bool rightAligned = false)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (_rows.Count > 0) throw new InvalidOperationException("Add every column before the first row.");
        _columns.Add((header, rightAligned));
        return this;
    }

    /// <summary>Adds a row of one cell (markup) per column.</summary>
    public FittedTable AddRow(params string[] cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Length != _columns.Count) throw new ArgumentException($"The table has {_columns.Count} columns but the row has {cells.Length} cells.", nameof(cells));
        _rows.Add(cells);
        return this;
    }

    /// <summary>Writes the table to <paramref name="console"/>, laid out for its width.</summary>
    public void Write(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        int width = console.Profile.Width;
        int[]? widths = FitColumns(width);
        if (widths is not null)
        {
            console.Write(ToSpectre(widths));
            return;
        }
        WriteRowsAsLists(console, width);
    }

    /// <summary>Column widths that fit <paramref name="width"/> without splitting a word, or null when the longest
    /// words of all columns side by side are already too wide.</summary>
    internal int[]? FitColumns(int width)
    {
        int count = _columns.Count;
        var minimum = new int[count];
        var natural = new int[count];
        for (int column = 0; column < count; column++)
        {
            foreach ((string cell, bool isHeader) in CellsOf(column))
            {
                string text = Markup.Remove(cell);
                // A right-aligned cell is a figure ("35.5 ms", "6 GiB"): it stays on one line; headings may wrap.
                bool whole = _columns[column].RightAligned && !isHeader;
                minimum[column] = Math.Max(minimum[column], whole ? LongestLine(text) : LongestWord(text));
                natural[column] = Math.Max(natural[column], LongestLine(text));
            }
            natural[column] = Math.Max(natural[column], minimum[column]);
        }
        // Padding on both sides of every cell, a border character between columns and at both edges.
        int available = width - (count * CellPadding + count + 1);
        if (natural.Sum() <= available) return natural;
        if (minimum.Sum() > available) return null;
        // Share the room left above the minimum among the columns that want more, in proportion to what they want.
        int[] widths = (int[])minimum.Clone();
        int spare = available - minimum.Sum();
        int wanted = natural.Sum() - minimum.Sum();
        for (int column = 0; column < count; column++)
        {
            int extra = (int)((long)spare * (natural[column] - minimum[column]) / wanted);
            widths[column] += extra;
        }
        int left = available - widths.Sum();
        for (int column = 0; left > 0 && column < count; column++)
        {
            int more = Math.Min(left, natural[column] - widths[column]);
            widths[column] += more;
            left -= more;
        }
        return widths;
    }

    private IEnumerable<(string Cell, bool IsHeader)> CellsOf(int column)
    {
        if (ShowHeaders) yield return (_columns[column].Header, true);
        foreach (string[] row in _rows) yield return (row[column], false);
    }

    private Table ToSpectre(int[] widths)
    {
        var table = new Table { Border = Border, ShowHeaders = ShowHeaders };
        if (Title is not null) table.Title = new TableTitle(Title);
        if (Caption is not null) table.Caption = new TableTitle(Caption);
        for (int column = 0; column < _columns.Count; column++)
        {
            var spectreColumn = new TableColumn(_columns[column].Header) { Width = widths[column] };
            if (_columns[column].RightAligned) spectreColumn.RightAligned();
            table.AddColumn(spectreColumn);
        }
        foreach (string[] row in _rows) table.AddRow(row);
        return table;
    }

    /// <summary>The narrow layout: the title, then per row its cells as "heading value" lines (a table of two
    /// columns when that fits, else each heading on its own line with the value indented below it).</summary>
    private void WriteRowsAsLists(IAnsiConsole console, int width)
    {
        if (Title is not null) console.MarkupLine($"[bold]{Title}[/]");
        if (!ShowHeaders)
        {
            // Facts without headings: one wrapped line per row.
            foreach (string[] row in _rows)
                console.Write(new Padder(new Markup(string.Join(" ", row.Where(cell => Markup.Remove(cell).Length > 0))), new Padding(2, 0, 0, 0)));
            WriteCaption(console);
            return;
        }
        for (int r = 0; r < _rows.Count; r++)
        {
            string[] row = _rows[r];
            if (r > 0 || Title is not null) console.WriteLine();
            var pairs = new FittedTable { Border = TableBorder.None, ShowHeaders = false };
            pairs.AddColumn("");
            pairs.AddColumn("");
            for (int column = 0; column < row.Length; column++)
            {
                string heading = _columns[column].Header;
                if (Markup.Remove(heading).Length == 0 && Markup.Remove(row[column]).Length == 0) continue;
                pairs.AddRow(heading, row[column]);
            }
            int[]? widths = pairs.FitColumns(width);
            if (widths is not null)
            {
                console.Write(pairs.ToSpectre(widths));
                continue;
            }
            foreach (string[] pair in pairs._rows)
            {
                if (Markup.Remove(pair[0]).Length > 0) console.MarkupLine(pair[0]);
                console.Write(new Padder(new Markup(pair[1]), new Padding(2, 0, 0, 0)));
            }
        }
        WriteCaption(console);
    }

    private void WriteCaption(IAnsiConsole console)
    {
        if (Caption is null) return;
        console.WriteLine();
        console.MarkupLine(Caption);
    }

    private static int LongestWord(string text)
    {
        int longest = 0;
        foreach (string word in text.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries)) longest = Math.Max(longest, word.GetCellWidth());
        return longest;
    }

    private static int LongestLine(string text)
    {
        int longest = 0;
        foreach (string line in text.Split('\n')) longest = Math.Max(longest, line.GetCellWidth());
        return longest;
    }
}
