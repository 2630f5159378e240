using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt pagemap</c>: <c>/proc/pid/pagemap</c> of an address space into which every folio of the
/// HugeTLB pools is mapped (as a process mapping them with MAP_HUGETLB): for each virtual page, present or not and
/// the frame, shown as runs of pages mapping consecutive frames.</summary>
internal static class PagemapCommand
{
    /// <summary>Pages one run reads at most (256 GiB of address space): each is a page-table lookup.</summary>
    public const ulong MaximumPages = 1UL << 26;

    public static Command Create(CliEnvironment environment)
    {
        var ranges = new Argument<string[]>("ranges")
        {
            Description = "Virtual ranges to read: VA (one page), START-END or START+LENGTH (hex or sizes, e.g. 0x8000000000+2M). "
                + "Default: the span the folios are mapped in.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var baseAddress = new Option<ulong?>("--base")
        {
            Description = "Where the first folio is mapped; each folio goes at the next address aligned to its size. Default 0x8000000000.",
            HelpName = "VA",
            CustomParser = CommonOptions.Parser<ulong>("--base", SizeParser.TryParseAddress),
        };
        var query = new PageQueryCommand<AddressRange>("pagemap",
            "Read the pagemap of an address space holding every folio of the HugeTLB pools: virtual page to frame.",
            ranges, TryParseRange, "page", baseAddress);
        HugeTlbPoolOptions pool = query.Pool;
        query.Command.SetAction(parse =>
        {
            bool anyFolio = parse.GetValue(pool.Pages2M) > 0 || parse.GetValue(pool.Pages1G) > 0;
            List<AddressRange> given = query.Ranges(parse);
            if (!anyFolio && given.Count == 0)
                throw new CliException("nothing is mapped: give --pages-2m N or --pages-1g N (mapped from --base), or a range to read");
            ulong baseVa = parse.GetValue(baseAddress) ?? HugeTlbPoolOptions.DefaultBase;
            ulong alignment = parse.GetValue(pool.Pages1G) > 0 ? PageSize.Size1G.Bytes() : PageSize.Size2M.Bytes();
            if (anyFolio && (baseVa & (alignment - 1)) != 0)
                throw new CliException($"--base {NumberParser.Hex(baseVa)} is not aligned to {SizeParser.Format(alignment)}, the largest folio size asked for");

            using Machine machine = CommonOptions.Boot(query.MachineOptions(parse), environment);
            using AddressSpace space = machine.CreateAddressSpace();
            ulong userTop = space.UserTop.Value;
            foreach (AddressRange range in given)
            {
                // An end of 0 is 2^64: the range runs to the top of the address space.
                if (range.End > userTop || range.End == 0)
                    throw new CliException($"range {range} leaves the user range, which ends at {NumberParser.Hex(userTop)}");
            }
            pool.FillPools(machine, parse);
            List<HugeTlbFolio> folios = HugeTlbPoolOptions.TakeAll(machine);
            ulong mappedEnd = baseVa;
            foreach (HugeTlbFolio folio in folios)
                mappedEnd = ((mappedEnd + folio.Bytes - 1) & ~(folio.Bytes - 1)) + folio.Bytes;
            if (mappedEnd > userTop || mappedEnd < baseVa)
                throw new CliException($"the folios from --base {NumberParser.Hex(baseVa)} would end at {NumberParser.Hex(mappedEnd)}, past the user range's end {NumberParser.Hex(userTop)}");
            List<(HugeTlbFolio Folio, ulong Va)> mapped = HugeTlbPoolOptions.MapAll(machine, space, folios, baseVa);
            List<AddressRange> read = given.Count > 0 ? given : [new AddressRange(baseVa, mappedEnd)];
            ulong pages = 0;
            foreach (AddressRange range in read) pages += ((range.End + 0xfff) >> 12) - (range.Start >> 12);
            if (pages > MaximumPages)
                throw new CliException(string.Create(CultureInfo.InvariantCulture,
                    $"the ranges cover {pages:N0} pages; pagemap reads at most {MaximumPages:N0} ({SizeParser.Format(MaximumPages << 12)}) in one run"));
            List<RangeEntries> scanned = environment.WithStatus("reading the pagemap", () => read.Select(r => Scan(space, r)).ToList());
            if (query.Json(parse)) WriteJson(environment.Output, machine, mapped, scanned);
            else Render(environment.CreateConsole(), query, machine, mapped, scanned, query.RowLimit(parse));
            foreach ((HugeTlbFolio folio, ulong va) in mapped) space.Unmap(new VirtAddr(va), folio.Bytes);
            foreach (HugeTlbFolio folio in folios) machine.HugeTlb.FreeFolio(folio);
            return ExitCodes.Success;
        });
        return query.Command;
    }

    /// <summary>START-END, START+LENGTH, or one address (its page).</summary>
    private static bool TryParseRange(string text, out AddressRange range, out string error)
    {
        ReadOnlySpan<char> span = text.AsSpan().Trim();
        if (span.Length > 1 && span[1..].IndexOfAny('-', '+') < 0)
        {
            range = default;
            if (!SizeParser.TryParseAddress(span.ToString(), out ulong va, out string addressError))
            {
                error = $"{TextFormat.Quote(text)} is not an address or range: {addressError}";
                return false;
            }
            ulong page = va & ~0xfffUL;
            if (page == (ulong.MaxValue & ~0xfffUL))
            {
                error = $"{TextFormat.Quote(text)} is the top page of the address space, past every user range";
                return false;
            }
            range = new AddressRange(page, page + 0x1000);
            error = string.Empty;
            return true;
        }
        return AddressRange.TryParse(text, out range, out error);
    }

    // ------------------------------------------------------------------------------------------ reading

    /// <summary>A range read (widened to whole pages) and its runs of virtual page numbers: pages in a row that are
    /// all absent, or present on consecutive frames.</summary>
    private sealed record RangeEntries(AddressRange Range, List<EntryRun<PagemapEntry>> Runs)
    {
        public ulong Present
        {
            get
            {
                ulong present = 0;
                foreach (EntryRun<PagemapEntry> run in Runs) present += run.First.Present ? run.Count : 0;
                return present;
            }
        }

        public ulong Pages => (Range.End - Range.Start + 0xfff) >> 12;
    }

    /// <summary>Reads the range's entries as a read of /proc/pid/pagemap would and folds them into runs.</summary>
    private static RangeEntries Scan(AddressSpace space, AddressRange range)
    {
        ulong start = range.Start >> 12, end = (range.End + 0xfff) >> 12;
        List<EntryRun<PagemapEntry>> runs = PageQuery.ReadRuns<PagemapEntry>(start, end,
            (page, entries) => space.ReadPagemap(new VirtAddr(page << 12), entries),
            static (first, offset, entry) => first.Present == entry.Present && (!entry.Present || entry.Pfn == first.Pfn + offset));
        return new RangeEntries(new AddressRange(start << 12, end << 12), runs);
    }

    // ------------------------------------------------------------------------------------------ output

    private static void Render(IAnsiConsole console, PageQueryCommand<AddressRange> query, Machine machine, List<(HugeTlbFolio Folio, ulong Va)> mapped,
        List<RangeEntries> scanned, int rowLimit)
    {
        query.WriteHeading(console, machine);
        if (mapped.Count > 0)
        {
            console.MarkupLine(CultureInfo.InvariantCulture, "[grey]{0} mapped from {1} to {2}[/]",
                Markup.Escape(TextFormat.Count(mapped.Count, "folio")), NumberParser.Hex(mapped[0].Va),
                NumberParser.Hex(mapped[^1].Va + mapped[^1].Folio.Bytes));
        }
        foreach (RangeEntries range in scanned)
        {
            PageQuery.WriteRuns(console,
                $"[bold]pages[/] {Markup.Escape(range.Range.ToString())} ({Markup.Escape(TextFormat.Count((long)range.Pages, "page"))}, {range.Present:N0} present)",
                range.Runs, rowLimit, [("start", false), ("end", false), ("pages", true), ("frames", false)],
                static run => [NumberParser.Hex(run.Start << 12), NumberParser.Hex(run.End << 12), run.Count.ToString("N0", CultureInfo.InvariantCulture),
                    run.First.Present ? $"{NumberParser.Hex(run.First.Pfn)}-{NumberParser.Hex(run.First.Pfn + run.Count)}" : "not present"]);
        }
    }

    private static void WriteJson(TextWriter output, Machine machine, List<(HugeTlbFolio Folio, ulong Va)> mapped, List<RangeEntries> scanned) =>
        PageQuery.WriteJson(output, machine, json =>
        {
            json.WriteObjects("folios", mapped, static (w, m) =>
            {
                w.WriteString("size", m.Folio.Size.ShortName());
                w.WriteNumber("va", m.Va);
                w.WriteNumber("pfn", m.Folio.Pfn);
            });
            json.WriteObjects("ranges", scanned, static (w, range) =>
            {
                w.WriteNumber("start", range.Range.Start);
                w.WriteNumber("end", range.Range.End);
                w.WriteNumber("pages", range.Pages);
                w.WriteNumber("present", range.Present);
                w.WriteObjects("runs", range.Runs, static (r, run) =>
                {
                    r.WriteNumber("start", run.Start << 12);
                    r.WriteNumber("end", run.End << 12);
                    r.WriteNumber("pages", run.Count);
                    r.WriteBoolean("present", run.First.Present);
                    if (run.First.Present) r.WriteNumber("pfn", run.First.Pfn);
                });
            });
        });
}
