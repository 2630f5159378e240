using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt kpageflags</c>: <c>/proc/kpageflags</c> of a booted machine (after filling its HugeTLB pools),
/// as runs of frames with equal flags and a count per combination of flags — what <c>tools/mm/page-types</c> shows —
/// and, with <c>--selftest</c>, the kernel's HVO selftest (<c>tools/testing/selftests/mm/hugepage-vmemmap.c</c>)
/// on every folio.</summary>
internal static class KPageFlagsCommand
{
    /// <summary>Frames one run reads at most (256 GiB of RAM).</summary>
    public const ulong MaximumFrames = 1UL << 26;
    private const KPageFlags HeadFlags = KPageFlags.CompoundHead | KPageFlags.Huge;
    private const KPageFlags TailFlags = KPageFlags.CompoundTail | KPageFlags.Huge;

    public static Command Create(CliEnvironment environment)
    {
        var frames = new Argument<string[]>("frames")
        {
            Description = "Frames to read: PFN, START-END (END exclusive) or START+COUNT, decimal or 0x-hex. "
                + "Default: the frames of every folio in the pools, or all RAM when the pools are empty.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var selftest = new Option<bool>("--selftest")
        {
            Description = "Run the kernel's HVO selftest on every folio: map it, find its frame through pagemap, check "
                + "that the head reads COMPOUND_HEAD|HUGE and every tail COMPOUND_TAIL|HUGE and never COMPOUND_HEAD|HUGE; exit 1 if not.",
        };
        var query = new PageQueryCommand<FrameRange>("kpageflags",
            "Read the kpageflags of frames of a booted machine, after filling its HugeTLB pools; --selftest runs the kernel's HVO check.",
            frames, FrameRange.TryParse, "frame", selftest);
        HugeTlbPoolOptions pool = query.Pool;
        query.Command.SetAction(parse =>
        {
            bool runSelfTest = parse.GetValue(selftest);
            if (runSelfTest && parse.GetValue(pool.Pages2M) == 0 && parse.GetValue(pool.Pages1G) == 0)
                throw new CliException("--selftest checks HugeTLB folios: give --pages-2m N or --pages-1g N as well");
            List<FrameRange> given = query.Ranges(parse);
            MachineOptions options = query.MachineOptions(parse);
            ulong lastFrame = MachineMemory.End(options) >> 12;
            foreach (FrameRange range in given)
            {
                if (range.End > lastFrame)
                    throw new CliException($"frames {range} run past the end of RAM: the machine's frames end at {NumberParser.Hex(lastFrame)}");
            }
            using Machine machine = CommonOptions.Boot(options, environment);
            pool.FillPools(machine, parse);

            List<SelfTestFolio>? selfTest = runSelfTest ? SelfTest(machine) : null;
            List<FrameRange> ranges = given.Count > 0 || runSelfTest ? given : DefaultRanges(machine, lastFrame);
            ulong total = 0;
            foreach (FrameRange range in ranges) total += range.Count;
            if (total > MaximumFrames)
                throw new CliException(string.Create(CultureInfo.InvariantCulture,
                    $"{(given.Count > 0 ? "the ranges cover" : "all RAM is")} {total:N0} frames; kpageflags reads at most {MaximumFrames:N0} ({SizeParser.Format(MaximumFrames << 12)} of RAM) in one run: give smaller frame ranges"));
            List<RangeFlags> scanned = environment.WithStatus("reading kpageflags", () => ranges.Select(r => Scan(machine, r)).ToList());

            if (query.Json(parse)) WriteJson(environment.Output, machine, scanned, selfTest);
            else Render(environment.CreateConsole(), query, machine, scanned, selfTest, query.RowLimit(parse));
            return selfTest is not null && selfTest.Any(f => !f.Passed) ? ExitCodes.ChecksFailed : ExitCodes.Success;
        });
        return query.Command;
    }

    /// <summary>The frames of every folio in the pools (taken out to see them, and given back), else all RAM.</summary>
    private static List<FrameRange> DefaultRanges(Machine machine, ulong lastFrame)
    {
        List<HugeTlbFolio> folios = HugeTlbPoolOptions.TakeAll(machine);
        foreach (HugeTlbFolio folio in folios) machine.HugeTlb.FreeFolio(folio);
        if (folios.Count == 0) return [new FrameRange(0, lastFrame)];
        return folios.OrderBy(f => f.Pfn).Select(f => new FrameRange(f.Pfn, f.Pfn + HugeTlbPoolOptions.FramesOf(f.Size))).ToList();
    }

    // ------------------------------------------------------------------------------------------ reading

    /// <summary>A range read: its runs of frames with equal flags, in frame order.</summary>
    private sealed record RangeFlags(FrameRange Range, List<EntryRun<ulong>> Runs);

    /// <summary>Reads the range as a read of /proc/kpageflags would and folds it into runs of equal flags.</summary>
    private static RangeFlags Scan(Machine machine, FrameRange range) =>
        new(range, PageQuery.ReadRuns<ulong>(range.Start, range.End, machine.ReadPageFlags,
            static (first, _, word) => word == first));

    /// <summary>Frames per combination of flags over every range, most frequent first.</summary>
    private static List<(KPageFlags Flags, ulong Frames)> Summary(List<RangeFlags> scanned)
    {
        var counts = new Dictionary<KPageFlags, ulong>();
        foreach (EntryRun<ulong> run in scanned.SelectMany(r => r.Runs))
            counts[(KPageFlags)run.First] = counts.GetValueOrDefault((KPageFlags)run.First) + run.Count;
        return counts.Select(pair => (pair.Key, pair.Value)).OrderByDescending(p => p.Value).ThenBy(p => (ulong)p.Key).ToList();
    }

    /// <summary>The kernel's KPF_ names of the set bits, joined by '|' ("none" for no flag).</summary>
    public static string Names(KPageFlags flags)
    {
        if (flags == KPageFlags.None) return "none";
        var names = new List<string>();
        for (int bit = 0; bit < 64; bit++)
        {
            var one = (KPageFlags)(1UL << bit);
            if ((flags & one) == 0) continue;
            names.Add(one switch
            {
                KPageFlags.Buddy => "BUDDY",
                KPageFlags.CompoundHead => "COMPOUND_HEAD",
                KPageFlags.CompoundTail => "COMPOUND_TAIL",
                KPageFlags.Huge => "HUGE",
                KPageFlags.NoPage => "NOPAGE",
                KPageFlags.PageTable => "PGTABLE",
                KPageFlags.Reserved => "RESERVED",
                _ => string.Create(CultureInfo.InvariantCulture, $"BIT{bit}"),
            });
        }
        return string.Join('|', names);
    }

    // ------------------------------------------------------------------------------------------ the selftest

    /// <summary>One folio as the selftest saw it: where it was mapped, the frame pagemap gave, the head's flags and
    /// how many tails failed.</summary>
    private sealed record SelfTestFolio(PageSize Size, ulong Pfn, ulong Va, ulong PagemapPfn, bool PagemapPresent, KPageFlags Head,
        ulong Tails, ulong BadTails, ulong? FirstBadTail, KPageFlags FirstBadTailFlags)
    {
        public bool HeadOk => (Head & HeadFlags) == HeadFlags;

        public bool Passed => PagemapPresent && PagemapPfn == Pfn && HeadOk && BadTails == 0;
    }

    /// <summary><c>hugepage-vmemmap.c</c> on every folio of the pools: each is taken (as a MAP_HUGETLB mapping faults
    /// one in), mapped into one address space, its frame looked up in pagemap at its address, and the flags of its
    /// frames read from there: the head must have COMPOUND_HEAD and HUGE, every tail COMPOUND_TAIL and HUGE and
    /// not both COMPOUND_HEAD and HUGE. The folios go back to the pools afterwards.</summary>
    private static List<SelfTestFolio> SelfTest(Machine machine)
    {
        List<HugeTlbFolio> folios = HugeTlbPoolOptions.TakeAll(machine);
        var results = new List<SelfTestFolio>();
        using (AddressSpace space = machine.CreateAddressSpace())
        {
            List<(HugeTlbFolio Folio, ulong Va)> mapped = HugeTlbPoolOptions.MapAll(machine, space, folios, HugeTlbPoolOptions.DefaultBase);
            foreach ((HugeTlbFolio folio, ulong va) in mapped)
            {
                PagemapEntry entry = space.GetPagemapEntry(new VirtAddr(va));
                ulong frames = HugeTlbPoolOptions.FramesOf(folio.Size);
                ulong[] flags = new ulong[frames];
                if (entry.Present) machine.ReadPageFlags(entry.Pfn, flags);
                (bool _, ulong bad, int firstBad) = CheckFolioFlags(flags);
                results.Add(new SelfTestFolio(folio.Size, folio.Pfn, va, entry.Pfn, entry.Present, (KPageFlags)flags[0], frames - 1, bad,
                    firstBad < 0 ? null : entry.Pfn + (ulong)firstBad, firstBad < 0 ? KPageFlags.None : (KPageFlags)flags[firstBad]));
            }
            foreach ((HugeTlbFolio folio, ulong va) in mapped) space.Unmap(new VirtAddr(va), folio.Bytes);
        }
        foreach (HugeTlbFolio folio in folios) machine.HugeTlb.FreeFolio(folio);
        return results;
    }

    /// <summary><c>check_page_flags</c> of the selftest on the kpageflags words of one folio's frames: whether the
    /// head has COMPOUND_HEAD and HUGE, how many tails lack COMPOUND_TAIL or HUGE or have both COMPOUND_HEAD and
    /// HUGE (a fake head reported as a head), and the index of the first such tail (-1 if none).</summary>
    public static (bool HeadOk, ulong BadTails, int FirstBadTail) CheckFolioFlags(ReadOnlySpan<ulong> flags)
    {
        bool headOk = flags.Length > 0 && ((KPageFlags)flags[0] & HeadFlags) == HeadFlags;
        ulong bad = 0;
        int first = -1;
        for (int i = 1; i < flags.Length; i++)
        {
            var f = (KPageFlags)flags[i];
            if ((f & TailFlags) == TailFlags && (f & HeadFlags) != HeadFlags) continue;
            if (bad++ == 0) first = i;
        }
        return (headOk, bad, first);
    }

    // ------------------------------------------------------------------------------------------ output

    private static void Render(IAnsiConsole console, PageQueryCommand<FrameRange> query, Machine machine, List<RangeFlags> scanned, List<SelfTestFolio>? selfTest, int rowLimit)
    {
        query.WriteHeading(console, machine);
        foreach (RangeFlags range in scanned)
        {
            PageQuery.WriteRuns(console, $"[bold]frames[/] {Markup.Escape(range.Range.ToString())} ({Markup.Escape(TextFormat.Count((long)range.Range.Count, "frame"))})",
                range.Runs, rowLimit, [("first frame", false), ("end", false), ("frames", true), ("raw", true), ("flags", false)],
                static run => [NumberParser.Hex(run.Start), NumberParser.Hex(run.End), Number(run.Count), NumberParser.Hex(run.First), Markup.Escape(Names((KPageFlags)run.First))]);
        }
        if (scanned.Count > 0)
        {
            var summary = new FittedTable(scanned.Count == 1 ? "Frames per flags" : "Frames per flags, all ranges");
            summary.AddColumn("flags");
            summary.AddColumn("raw", rightAligned: true);
            summary.AddColumn("frames", rightAligned: true);
            summary.AddColumn("bytes", rightAligned: true);
            foreach ((KPageFlags flags, ulong count) in Summary(scanned))
                summary.AddRow(Markup.Escape(Names(flags)), NumberParser.Hex((ulong)flags), Number(count), SizeParser.Format(count << 12));
            summary.Write(console);
        }
        if (selfTest is null) return;
        console.WriteLine();
        TextFormat.Heading(console, "[bold]HVO selftest[/] (tools/testing/selftests/mm/hugepage-vmemmap.c)");
        foreach (IGrouping<PageSize, SelfTestFolio> group in selfTest.GroupBy(f => f.Size))
        {
            int failed = group.Count(f => !f.Passed);
            string verdict = failed == 0 ? "[green]PASS[/]" : "[red]FAIL[/]";
            ulong tails = group.First().Tails;
            console.MarkupLine(CultureInfo.InvariantCulture, "{0} folios: {1}, head COMPOUND_HEAD|HUGE, {2:N0} tails each COMPOUND_TAIL|HUGE, never COMPOUND_HEAD|HUGE: {3}",
                group.Key.ShortName(), Markup.Escape(TextFormat.Count(group.Count(), "folio")), tails, verdict);
            foreach (SelfTestFolio folio in group.Where(f => !f.Passed).Take(10))
                console.MarkupLine($"  [red]{Markup.Escape(Describe(folio))}[/]");
            if (failed > 10) console.MarkupLine($"  [grey]… {failed - 10} more failed[/]");
        }
    }

    /// <summary>Why a folio failed the selftest, one line.</summary>
    private static string Describe(SelfTestFolio folio)
    {
        string where = $"folio at frame {NumberParser.Hex(folio.Pfn)} mapped at {NumberParser.Hex(folio.Va)}";
        if (!folio.PagemapPresent) return $"{where}: pagemap says not present";
        if (folio.PagemapPfn != folio.Pfn) return $"{where}: pagemap gives frame {NumberParser.Hex(folio.PagemapPfn)}";
        if (!folio.HeadOk) return $"{where}: head flags {Names(folio.Head)} ({NumberParser.Hex((ulong)folio.Head)})";
        return string.Create(CultureInfo.InvariantCulture,
            $"{where}: {folio.BadTails:N0} tails wrong, the first {NumberParser.Hex(folio.FirstBadTail ?? 0)} reads {Names(folio.FirstBadTailFlags)}");
    }

    private static void WriteJson(TextWriter output, Machine machine, List<RangeFlags> scanned, List<SelfTestFolio>? selfTest) =>
        PageQuery.WriteJson(output, machine, json =>
        {
            json.WriteObjects("ranges", scanned, static (w, range) =>
            {
                w.WriteNumber("start", range.Range.Start);
                w.WriteNumber("end", range.Range.End);
                w.WriteObjects("runs", range.Runs, static (r, run) =>
                {
                    r.WriteNumber("start", run.Start);
                    r.WriteNumber("end", run.End);
                    r.WriteNumber("frames", run.Count);
                    WriteFlags(r, (KPageFlags)run.First);
                });
            });
            json.WriteObjects("summary", Summary(scanned), static (w, pair) =>
            {
                WriteFlags(w, pair.Flags);
                w.WriteNumber("frames", pair.Frames);
            });
            if (selfTest is null) return;
            json.WriteObject("selftest", w =>
            {
                w.WriteBoolean("passed", selfTest.All(f => f.Passed));
                w.WriteObjects("folios", selfTest, static (f, folio) =>
                {
                    f.WriteString("size", folio.Size.ShortName());
                    f.WriteNumber("pfn", folio.Pfn);
                    f.WriteNumber("va", folio.Va);
                    f.WriteBoolean("pagemapPresent", folio.PagemapPresent);
                    f.WriteNumber("pagemapPfn", folio.PagemapPfn);
                    f.WriteNumber("headFlags", (ulong)folio.Head);
                    f.WriteNumber("tails", folio.Tails);
                    f.WriteNumber("badTails", folio.BadTails);
                    f.WriteBoolean("passed", folio.Passed);
                });
            });
        });

    private static void WriteFlags(Utf8JsonWriter json, KPageFlags flags)
    {
        json.WriteNumber("flags", (ulong)flags);
        json.WriteStartArray("names");
        if (flags != KPageFlags.None)
        {
            foreach (string name in Names(flags).Split('|')) json.WriteStringValue(name);
        }
        json.WriteEndArray();
    }

    private static string Number(ulong value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
