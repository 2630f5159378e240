using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt pagemap</c>: <c>/proc/pid/pagemap</c> of an address space into which every folio of the
/// HugeTLB pools is mapped (as a process mapping them with MAP_HUGETLB): for each virtual page, present or not and
/// the frame, shown as runs of pages mapping consecutive frames.</summary>
internal static class PagemapCommand
{
    private const int DefaultRows = 100;
    private const int Chunk = 1 << 16;

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
        HugeTlbPoolOptions pool = HugeTlbPoolOptions.Create();
        var baseAddress = new Option<ulong?>("--base")
        {
            Description = "Where the first folio is mapped; each folio goes at the next address aligned to its size. Default 0x8000000000.",
            HelpName = "VA",
            CustomParser = ParseBase,
        };
        Option<int> rows = CommonOptions.Integer("--rows",
            "Runs to list per range, 0 or more (the summary counts every page, however many are listed).", "N", DefaultRows,
            minimum: 0, maximum: int.MaxValue, capAtMaximum: true);
        Option<ulong?> memory = CommonOptions.Memory();
        Option<int> levels = CommonOptions.Levels();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("pagemap",
            "Read the pagemap of an address space holding every folio of the HugeTLB pools: virtual page to frame.")
        {
            ranges, baseAddress, rows, memory, levels, json,
        };
        foreach (Option option in pool.All) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            foreach (string text in result.GetValue(ranges) ?? [])
            {
                if (!TryParseRange(text, out _, out string error)) result.AddError(error);
            }
        });
        command.SetAction(parse =>
        {
            bool anyFolio = parse.GetValue(pool.Pages2M) > 0 || parse.GetValue(pool.Pages1G) > 0;
            var given = new List<AddressRange>();
            foreach (string text in parse.GetValue(ranges) ?? [])
            {
                // The validator refused every range that does not parse.
                if (!TryParseRange(text, out AddressRange range, out string error)) throw new CliException(error);
                given.Add(range);
            }
            if (!anyFolio && given.Count == 0)
                throw new CliException("nothing is mapped: give --pages-2m N or --pages-1g N (mapped from --base), or a range to read");
            ulong baseVa = parse.GetValue(baseAddress) ?? HugeTlbPoolOptions.DefaultBase;
            ulong alignment = parse.GetValue(pool.Pages1G) > 0 ? PageSize.Size1G.Bytes() : PageSize.Size2M.Bytes();
            if (anyFolio && (baseVa & (alignment - 1)) != 0)
                throw new CliException($"--base {NumberParser.Hex(baseVa)} is not aligned to {SizeParser.Format(alignment)}, the largest folio size asked for");

            MachineOptions options = pool.MachineOptions(parse, parse.GetValue(memory), parse.GetValue(levels));
            using Machine machine = CommonOptions.Boot(options, environment);
            using AddressSpace space = machine.CreateAddressSpace();
            ulong userTop = space.UserTop.Value;
            foreach (AddressRange range in given)
            {
                if (range.End > userTop)
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
            string machineLine = $"{SizeParser.Format(machine.Options.MemorySize)} machine, {HugeTlbPoolOptions.Describe(machine)}";
            if (parse.GetValue(json)) WriteJson(environment.Output, machine, mapped, scanned);
            else Render(environment.CreateConsole(), machineLine, mapped, scanned, parse.GetValue(rows));
            foreach ((HugeTlbFolio folio, ulong va) in mapped) space.Unmap(new VirtAddr(va), folio.Bytes);
            foreach (HugeTlbFolio folio in folios) machine.HugeTlb.FreeFolio(folio);
            return ExitCodes.Success;
        });
        return command;
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

    private static ulong? ParseBase(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!SizeParser.TryParseAddress(text, out ulong address, out string error))
        {
            result.AddError("--base: " + error);
            return 0;
        }
        return address;
    }

    // ------------------------------------------------------------------------------------------ reading

    /// <summary>Pages in a row that are all absent, or present on consecutive frames.</summary>
    private readonly record struct EntryRun(ulong Start, ulong End, bool Present, ulong FirstPfn)
    {
        public ulong Pages => (End - Start) >> 12;
    }

    private sealed record RangeEntries(AddressRange Range, List<EntryRun> Runs)
    {
        public ulong Present
        {
            get
            {
                ulong present = 0;
                foreach (EntryRun run in Runs) present += run.Present ? run.Pages : 0;
                return present;
            }
        }

        public ulong Pages => (Range.End - Range.Start + 0xfff) >> 12;
    }

    /// <summary>Reads the range's entries a chunk at a time (as a read of /proc/pid/pagemap would) into runs.</summary>
    private static RangeEntries Scan(AddressSpace space, AddressRange range)
    {
        ulong start = range.Start & ~0xfffUL, end = (range.End + 0xfff) & ~0xfffUL;
        var runs = new List<EntryRun>();
        var buffer = new PagemapEntry[(int)Math.Min(Chunk, (end - start) >> 12)];
        for (ulong at = start; at < end;)
        {
            int n = (int)Math.Min((ulong)buffer.Length, (end - at) >> 12);
            space.ReadPagemap(new VirtAddr(at), buffer.AsSpan(0, n));
            for (int i = 0; i < n; i++, at += 0x1000)
            {
                PagemapEntry e = buffer[i];
                if (runs.Count > 0)
                {
                    EntryRun last = runs[^1];
                    bool continues = last.Present == e.Present && (!e.Present || e.Pfn == last.FirstPfn + last.Pages);
                    if (continues)
                    {
                        runs[^1] = last with { End = at + 0x1000 };
                        continue;
                    }
                }
                runs.Add(new EntryRun(at, at + 0x1000, e.Present, e.Present ? e.Pfn : 0));
            }
        }
        return new RangeEntries(new AddressRange(start, end), runs);
    }

    // ------------------------------------------------------------------------------------------ output

    private static void Render(IAnsiConsole console, string machineLine, List<(HugeTlbFolio Folio, ulong Va)> mapped, List<RangeEntries> scanned, int rowLimit)
    {
        console.MarkupLine($"[bold]fastpt pagemap[/]: {Markup.Escape(machineLine)}");
        if (mapped.Count > 0)
        {
            console.MarkupLine(CultureInfo.InvariantCulture, "[grey]{0} mapped from {1} to {2}[/]",
                Markup.Escape(TextFormat.Count(mapped.Count, "folio")), NumberParser.Hex(mapped[0].Va),
                NumberParser.Hex(mapped[^1].Va + mapped[^1].Folio.Bytes));
        }
        foreach (RangeEntries range in scanned)
        {
            console.WriteLine();
            TextFormat.Heading(console, $"[bold]pages[/] {Markup.Escape(range.Range.ToString())} ({Markup.Escape(TextFormat.Count((long)range.Pages, "page"))}, {range.Present:N0} present)");
            var table = new FittedTable();
            table.AddColumn("start");
            table.AddColumn("end");
            table.AddColumn("pages", rightAligned: true);
            table.AddColumn("frames");
            for (int i = 0; i < range.Runs.Count && i < rowLimit; i++)
            {
                EntryRun run = range.Runs[i];
                string frames = run.Present ? $"{NumberParser.Hex(run.FirstPfn)}-{NumberParser.Hex(run.FirstPfn + run.Pages)}" : "not present";
                table.AddRow(NumberParser.Hex(run.Start), NumberParser.Hex(run.End), run.Pages.ToString("N0", CultureInfo.InvariantCulture), frames);
            }
            if (table.RowCount > 0) table.Write(console);
            if (range.Runs.Count > table.RowCount)
                console.MarkupLine($"[grey]… {Markup.Escape(TextFormat.Count(range.Runs.Count - table.RowCount, "more run"))} not listed (--rows)[/]");
        }
    }

    private static void WriteJson(TextWriter output, Machine machine, List<(HugeTlbFolio Folio, ulong Va)> mapped, List<RangeEntries> scanned)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            HugeTlbPoolOptions.WritePools(json, machine);
            json.WriteStartArray("folios");
            foreach ((HugeTlbFolio folio, ulong va) in mapped)
            {
                json.WriteStartObject();
                json.WriteString("size", folio.Size.ShortName());
                json.WriteNumber("va", va);
                json.WriteNumber("pfn", folio.Pfn);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("ranges");
            foreach (RangeEntries range in scanned)
            {
                json.WriteStartObject();
                json.WriteNumber("start", range.Range.Start);
                json.WriteNumber("end", range.Range.End);
                json.WriteNumber("pages", range.Pages);
                json.WriteNumber("present", range.Present);
                json.WriteStartArray("runs");
                foreach (EntryRun run in range.Runs)
                {
                    json.WriteStartObject();
                    json.WriteNumber("start", run.Start);
                    json.WriteNumber("end", run.End);
                    json.WriteNumber("pages", run.Pages);
                    json.WriteBoolean("present", run.Present);
                    if (run.Present) json.WriteNumber("pfn", run.FirstPfn);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
