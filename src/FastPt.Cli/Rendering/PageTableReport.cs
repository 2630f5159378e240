using System;
using System.Globalization;
using System.IO;
using Spectre.Console;

namespace FastPt.Cli.Rendering;

/// <summary>How a replay ends, for page files and lackey traces alike: the page-table pages per level and the
/// VmPTE figure.</summary>
internal static class PageTableReport
{
    /// <summary>Writes the table of pages per level to <paramref name="console"/> (P4D only with 5-level paging; it
    /// is not part of VmPTE), then the figure in the format of <c>/proc/PID/status</c> on a line of its own of
    /// <paramref name="output"/>, so that scripts can pick it up.</summary>
    public static void Write(IAnsiConsole console, TextWriter output, PagingMode mode, PageTableCounts tables)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(output);
        var levels = new FittedTable("Page-table pages per level");
        levels.AddColumn("level");
        levels.AddColumn("pages", rightAligned: true);
        levels.AddColumn("KiB", rightAligned: true);
        levels.AddColumn("in VmPTE");
        if (mode == PagingMode.FiveLevel) AddLevel(levels, "P4D", tables.P4d, inVmPte: false);
        AddLevel(levels, "PUD", tables.Pud, inVmPte: true);
        AddLevel(levels, "PMD", tables.Pmd, inVmPte: true);
        AddLevel(levels, "PTE", tables.Pte, inVmPte: true);
        levels.Write(console);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"VmPTE:\t{tables.VmPteKiB} kB"));
    }

    private static void AddLevel(FittedTable table, string level, long pages, bool inVmPte) =>
        table.AddRow(level, Number(pages), Number(pages * 4), inVmPte ? "yes" : "no");

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
