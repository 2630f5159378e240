using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt dump</c>: shows how a virtual range is mapped, as runs of equal leaves and a summary per page
/// size — the kernel tables of a freshly booted machine, or a user address space replayed from a page file.</summary>
internal static class DumpCommand
{
    private const int DefaultRows = 100;

    public static Command Create(CliEnvironment environment)
    {
        var range = new Option<AddressRange?>("--va")
        {
            Description = "Range to dump: START-END or START+LENGTH (hex or sizes, e.g. 0xffff888000000000+4G). "
                + "Default: the direct map and vmemmap of all RAM, or with --pages the span of the pages.",
            HelpName = "RANGE",
            CustomParser = CommonOptions.Parser<AddressRange>("--va", AddressRange.TryParse),
        };
        Option<ulong?> memory = CommonOptions.Memory();
        Option<int> levels = CommonOptions.Levels();
        Option<string?> pages = CommonOptions.Pages(required: false);
        Option<ulong?> baseAddress = CommonOptions.Base();
        Option<int> rows = CommonOptions.Integer("--rows",
            "Runs to list per range, 0 or more (the summary counts them all, however many are listed).", "N", DefaultRows,
            minimum: 0, maximum: int.MaxValue, capAtMaximum: true);
        var command = new Command("dump", "Show how a virtual range is mapped: runs of leaves and a summary per page size.")
        {
            range, memory, levels, pages, baseAddress, rows,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(pages) is null && result.GetResult(baseAddress) is not null)
                result.AddError("--base applies to a page file: give --pages FILE as well");
        });
        command.SetAction(parse =>
        {
            string? path = parse.GetValue(pages);
            MachineOptions options = CommonOptions.MachineOptions(parse.GetValue(memory), parse.GetValue(levels), checkedMode: false);
            using Machine machine = CommonOptions.Boot(options, environment);
            IAnsiConsole console = environment.CreateConsole();
            AddressRange? requested = parse.GetValue(range);
            int rowLimit = parse.GetValue(rows);
            if (path is null) DumpKernel(console, environment, machine, requested, rowLimit);
            else DumpPages(console, environment, machine, path, parse.GetValue(baseAddress) ?? PageSets.PageSetReplayer.DefaultBase, requested, rowLimit);
            return ExitCodes.Success;
        });
        return command;
    }

    private static void DumpKernel(IAnsiConsole console, CliEnvironment environment, Machine machine, AddressRange? requested, int rowLimit)
    {
        var ranges = new List<(string Title, AddressRange Range)>();
        if (requested is { } given)
        {
            RequireCanonical(machine.PagingMode, given);
            ranges.Add(("kernel page tables", given));
        }
        else
        {
            MachineOptions options = machine.Options;
            ulong ramEnd = MachineMemory.End(options);
            ulong sections = (ramEnd + MachineMemory.SectionBytes - 1) / MachineMemory.SectionBytes;
            ulong direct = machine.DirectMapBase.Value;
            ulong vmemmap = machine.VmemmapBase.Value;
            ranges.Add(("direct map of all RAM", new AddressRange(direct, direct + ramEnd)));
            // 64-byte descriptors: 2 MiB of vmemmap per 128 MiB section.
            ranges.Add(("vmemmap of all RAM", new AddressRange(vmemmap, vmemmap + sections * (2UL << 20))));
        }
        foreach ((string title, AddressRange range) in ranges)
        {
            // The listed rows come from a dump that stops after them; the summary from a count of the whole range.
            (IReadOnlyList<MappingRun> runs, MappingTotals totals) = environment.WithStatus("walking the kernel page tables of " + title,
                () => (machine.DumpKernel(new VirtAddr(range.Start), range.Length, Math.Max(rowLimit, 1)),
                    machine.CountKernelMappings(new VirtAddr(range.Start), range.Length)));
            Render(console, title, range, runs, totals, rowLimit);
        }
    }

    private static void DumpPages(IAnsiConsole console, CliEnvironment environment, Machine machine, string path, ulong baseAddress,
        AddressRange? requested, int rowLimit)
    {
        using AddressSpace space = PageFileReplay.CreateSpace(machine, baseAddress);
        if (requested is { } wanted) RequireInside(machine, space, wanted); // before the replay: the mistake shows at once
        PageFileReplay.Outcome outcome = PageFileReplay.Run(environment, console, space, path, baseAddress);
        AddressRange range;
        if (requested is { } given)
        {
            // Whole pages: an end in the top page rounds up to 2^64, which is 0 (as an end of 0 already is).
            range = new AddressRange(given.Start & ~0xfffUL, (given.End + 0xfff) & ~0xfffUL);
        }
        else if (outcome.Pages.Count == 0)
        {
            console.MarkupLine($"[yellow]{Markup.Escape(TextFormat.Quote(path, 200))} holds no pages: nothing to dump.[/]");
            return;
        }
        else
        {
            range = new AddressRange(baseAddress + outcome.Pages.First * 4096, baseAddress + (outcome.Pages.Last + 1) * 4096);
        }
        (IReadOnlyList<MappingRun> runs, MappingTotals totals) = environment.WithStatus("walking the page tables",
            () => (space.Dump(new VirtAddr(range.Start), range.Length, Math.Max(rowLimit, 1)), space.CountMappings(new VirtAddr(range.Start), range.Length)));
        Render(console, PageFileReplay.Describe(space) + " replayed from " + path, range, runs, totals, rowLimit);
        PageTableCounts tables = space.PageTables;
        console.MarkupLine(CultureInfo.InvariantCulture, "page tables: PTE {0:N0}, PMD {1:N0}, PUD {2:N0}, P4D {3:N0}; VmPTE {4:N0} kB",
            tables.Pte, tables.Pmd, tables.Pud, tables.P4d, tables.VmPteKiB);
    }

    /// <summary>A dump of a replayed space must stay inside it and inside one canonical half.</summary>
    private static void RequireInside(Machine machine, AddressSpace space, AddressRange range)
    {
        ulong last = range.End - 1; // an end of 0 is 2^64
        if (space.Contains(new VirtAddr(range.Start)) && space.Contains(new VirtAddr(last)) && (range.Start ^ last) >> 63 == 0) return;
        RequireCanonical(machine.PagingMode, range);
        throw new CliException(space.Layout == AddressSpaceLayout.FullCanonical
            ? $"--va {range} crosses the non-canonical hole: it must lie below {space.UserTop} or at or above {space.HigherHalfStart}"
            : $"--va {range} leaves the user range, which ends at {space.UserTop} (a --base in the higher half replays into a guest space covering both halves)");
    }

    /// <summary>A kernel dump must stay inside one canonical half: the walker indexes the top-level table by the
    /// address bits the paging mode uses.</summary>
    internal static void RequireCanonical(PagingMode mode, AddressRange range)
    {
        int bits = mode == PagingMode.FiveLevel ? 57 : 48;
        ulong lowTop = 1UL << (bits - 1);
        ulong highBottom = ~(lowTop - 1);
        bool low = range.End != 0 && range.End <= lowTop; // an end of 0 is 2^64
        bool high = range.Start >= highBottom;
        if (!low && !high)
            throw new CliException($"--va {range} is not canonical for {bits}-bit addresses: it must lie below 0x{lowTop:x} or at or above 0x{highBottom:x}");
    }

    private static void Render(IAnsiConsole console, string title, AddressRange range, IReadOnlyList<MappingRun> runs, MappingTotals totals, int rowLimit)
    {
        console.WriteLine();
        TextFormat.Heading(console, $"[bold]{Markup.Escape(title)}[/] {Markup.Escape(range.ToString())}");
        MappingCount all = totals.Total;
        if (all.Leaves == 0)
        {
            console.MarkupLine("[yellow]nothing is mapped in this range[/]");
            return;
        }
        var table = new FittedTable();
        table.AddColumn("start");
        table.AddColumn("end");
        table.AddColumn("physical");
        table.AddColumn("page size");
        table.AddColumn("count", rightAligned: true);
        table.AddColumn("protection");
        for (int i = 0; i < runs.Count && i < rowLimit; i++)
        {
            MappingRun run = runs[i];
            // A run ending at 2^64 (a guest's top page) has no 64-bit end: it is written out.
            VirtAddr end = run.Start + run.Length;
            table.AddRow(run.Start.ToString(), end.Value == 0 ? "0x10000000000000000" : end.ToString(), run.Physical.ToString(), run.PageSize.ShortName(),
                Number(run.Pages), run.Protection.ToString());
        }
        if (table.RowCount > 0) table.Write(console);
        if (all.Runs > table.RowCount)
            console.MarkupLine($"[grey]… {Markup.Escape(TextFormat.Count(all.Runs - table.RowCount, "more run"))} not listed (--rows)[/]");

        var sizes = new FittedTable("Per page size");
        sizes.AddColumn("page size");
        sizes.AddColumn("runs", rightAligned: true);
        sizes.AddColumn("pages", rightAligned: true);
        sizes.AddColumn("bytes", rightAligned: true);
        foreach (PageSize size in new[] { PageSize.Size4K, PageSize.Size2M, PageSize.Size1G })
        {
            MappingCount count = totals.Of(size);
            if (count.Leaves > 0) sizes.AddRow(size.ShortName(), Number(count.Runs), Number(count.Leaves), SizeParser.Format(count.Bytes));
        }
        sizes.AddRow("total", Number(all.Runs), Number(all.Leaves), SizeParser.Format(all.Bytes));
        sizes.Write(console);
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
