using System;
using System.Collections.Generic;
using System.Linq;
using Spectre.Console;

namespace FastPt.Cli.Rendering;

/// <summary>A table that fits the console without breaking a number or a heading: every column is at least as wide
/// as its longest word (a number is one word, a right-aligned figure such as "35.5 ms" stays whole) and text wraps at
/// spaces; if that is too wide, long names without digits in cells may fold; if even that is too wide, each row is
/// shown as a list of "heading value" lines instead. Spectre alone would shrink columns below their words, cutting
/// numbers mid-digit and headers to an ellipsis. Cells, headings, title and caption are Spectre markup.</summary>
internal sealed class FittedTable
{
    // Spectre's default cell padding: one space either side.
    private const int CellPadding = 2;

    // Narrowest column a long name without digits may be folded into.
    private const int FoldedWord = 10;

    private readonly List<(string Header, bool RightAligned, bool MayFold)> _columns = [];
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

    /// <summary>Adds a column with a heading (markup). Long names without digits in its cells may fold when the
    /// table is tight, unless <paramref name="mayFold"/> is false (a column of headings).</summary>
    public FittedTable AddColumn(string header, bool rightAligned = false, bool mayFold = true)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (_rows.Count > 0) throw new InvalidOperationException("Add every column before the first row.");
        _columns.Add((header, rightAligned, mayFold));
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
        var folded = new int[count];
        var natural = new int[count];
        for (int column = 0; column < count; column++)
        {
            foreach ((string cell, bool isHeader) in CellsOf(column))
            {
                string text = Markup.Remove(cell);
                // A figure in a right-aligned column ("35.5 ms", "6 GiB") stays on one line; a sentence there and
                // headings may wrap.
                bool whole = _columns[column].RightAligned && !isHeader && IsFigure(text);
                minimum[column] = Math.Max(minimum[column], whole ? LongestLine(text) : LongestWord(text, foldable: true));
                // Folded: a long name in a cell may break (System.Diagnostics.Metrics), a heading or a word with a
                // digit in it (a number, an address, "<32768:1") may not.
                folded[column] = Math.Max(folded[column], whole ? LongestLine(text)
                    : isHeader || !_columns[column].MayFold ? LongestWord(text, foldable: true) : Math.Max(LongestWord(text, foldable: false), Math.Min(LongestWord(text, foldable: true), FoldedWord)));
                natural[column] = Math.Max(natural[column], LongestLine(text));
            }
            natural[column] = Math.Max(natural[column], minimum[column]);
        }
        // Padding on both sides of every cell, a border character between columns and at both edges.
        int available = width - (count * CellPadding + count + 1);
        if (natural.Sum() <= available) return natural;
        if (minimum.Sum() > available)
        {
            if (folded.Sum() > available) return null;
            minimum = folded;
        }
        // Share the room left above the minimum by water-filling: while some column wants no more than an equal
        // share of what is left, it gets all it wants; the columns that want more split the rest equally. A short
        // column is then never folded to give a long sentence room it cannot fill anyway.
        int[] widths = (int[])minimum.Clone();
        int left = available - minimum.Sum();
        var open = new List<int>(Enumerable.Range(0, count).Where(column => natural[column] > widths[column]));
        bool settled;
        do
        {
            settled = false;
            if (open.Count == 0) break;
            int share = left / open.Count;
            foreach (int column in open.ToArray())
            {
                int want = natural[column] - widths[column];
                if (want > share) continue;
                widths[column] += want;
                left -= want;
                open.Remove(column);
                settled = true;
            }
        }
        while (settled);
        for (int i = 0; i < open.Count; i++)
        {
            int extra = left / (open.Count - i);
            widths[open[i]] += extra;
            left -= extra;
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
            pairs.AddColumn("", mayFold: false);
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

    /// <summary>The widest word; with <paramref name="foldable"/> false only words holding a digit count.</summary>
    private static int LongestWord(string text, bool foldable)
    {
        int longest = 0;
        foreach (string word in text.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (foldable || word.AsSpan().IndexOfAnyInRange('0', '9') >= 0) longest = Math.Max(longest, word.GetCellWidth());
        }
        return longest;
    }

    /// <summary>A figure: a number with at most a unit ("35.5 ms", "0x8000000000-0x80c0000000"), not a sentence.</summary>
    private static bool IsFigure(string text) =>
        text.AsSpan().IndexOfAnyInRange('0', '9') >= 0 && text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length <= 2;

    private static int LongestLine(string text)
    {
        int longest = 0;
        foreach (string line in text.Split('\n')) longest = Math.Max(longest, line.GetCellWidth());
        return longest;
    }
}
