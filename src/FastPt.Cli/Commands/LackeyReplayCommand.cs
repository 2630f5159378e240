using System;
using System.Globalization;
using System.IO;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;
using FastPt.Cli.Traces;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt replay --lackey FILE</c>: replays a valgrind lackey trace through one CPU context of an address
/// space that maps pages on first touch, and reports the accesses, the TLB, the faults and the page tables.</summary>
internal static class LackeyReplayCommand
{
    /// <summary>Boots a machine, replays <paramref name="path"/> and writes the report (tables, or JSON).</summary>
    public static int Run(CliEnvironment environment, string path, MachineOptions options, bool transparentHugePages, bool skipBad, bool json)
    {
        if (CommonOptions.InputFileError(path, "lackey trace") is { } error) throw new CliException(error, ExitCodes.Usage);
        using Machine machine = CommonOptions.Boot(options, environment);
        using AddressSpace space = machine.CreateAddressSpace();
        IAnsiConsole console = environment.CreateConsole();
        LackeyReplayResult result;
        try
        {
            using LackeyReader reader = LackeyReader.Open(path, skipBad);
            result = environment.Interactive ? WithProgress(console, machine, space, reader, transparentHugePages)
                : LackeyReplayer.Replay(machine, space, reader, Options(transparentHugePages));
        }
        catch (LackeyFormatException exception)
        {
            throw new CliException(exception.Message + (exception.Line > 0 ? " (--skip-bad counts such lines and goes on)" : ""), ExitCodes.BadInput);
        }
        catch (InvalidOperationException exception)
        {
            throw new CliException($"replaying {path} failed: {exception.Message}", ExitCodes.BadInput);
        }
        if (json) WriteJson(environment.Output, path, machine, transparentHugePages, result);
        else Render(console, environment, path, machine, transparentHugePages, result);
        return ExitCodes.Success;
    }

    private static AnonymousOptions Options(bool thp) => thp ? AnonymousOptions.TransparentHugePages : AnonymousOptions.None;

    private static LackeyReplayResult WithProgress(IAnsiConsole console, Machine machine, AddressSpace space, LackeyReader reader, bool thp)
    {
        LackeyReplayResult? result = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask("replaying " + Markup.Escape(Path.GetFileName(reader.Path)), maxValue: Math.Max(reader.FileLength, 1));
                result = LackeyReplayer.Replay(machine, space, reader, Options(thp), (done, _) => task.Value = done);
                task.Value = task.MaxValue;
            });
        return result!;
    }

    private static void Render(IAnsiConsole console, CliEnvironment environment, string path, Machine machine, bool thp, LackeyReplayResult r)
    {
        var facts = new FittedTable { Border = TableBorder.Simple, ShowHeaders = false };
        facts.AddColumn("fact");
        facts.AddColumn("value", rightAligned: true);
        facts.AddRow("trace", Markup.Escape(TextFormat.PathForShell(path)));
        facts.AddRow("paging", machine.PagingMode == PagingMode.FiveLevel ? "5-level" : "4-level");
        facts.AddRow("pages", thp ? "transparent huge pages (2 MiB where a fault can)" : "4 KiB");
        facts.AddRow("lines (skipped ==/blank)", $"{Number(r.Lines)} ({Number(r.SkippedLines)})");
        if (r.BadLines > 0) facts.AddRow("malformed lines skipped", Number(r.BadLines));
        facts.AddRow("accesses", Number(r.Accesses));
        facts.AddRow("  I fetch / L read / S write / M read+write",
            $"{Number(r.AccessesByKind[0])} / {Number(r.AccessesByKind[1])} / {Number(r.AccessesByKind[2])} / {Number(r.AccessesByKind[3])}");
        facts.AddRow("page-crossing accesses", Number(r.PageCrossings));
        facts.AddRow("translations", Number(r.Translations));
        facts.AddRow("distinct 4 KiB pages", Number(r.DistinctPages));
        if (r.Unresolved > 0) facts.AddRow("faults that stood", $"{Number(r.Unresolved)} (first: {Markup.Escape(r.FirstUnresolved?.ToString() ?? "")})");
        facts.AddRow("translate time", ReportValue.FromDuration(r.TranslateTime).ToString());
        facts.AddRow("accesses/s (translation)", Number((long)r.AccessesPerSecond));
        facts.AddRow("replay time (reading included)", ReportValue.FromDuration(r.Elapsed).ToString());
        facts.Write(console);

        var tlb = new FittedTable("TLB of the replaying CPU");
        tlb.AddColumn("counter");
        tlb.AddColumn("value", rightAligned: true);
        tlb.AddRow("hits", Number(r.Tlb.Hits));
        tlb.AddRow("misses", Number(r.Tlb.Misses));
        tlb.AddRow("hit rate", r.Tlb.HitRate.ToString("P4", CultureInfo.InvariantCulture));
        tlb.AddRow("paging-structure cache hits (PTE table / PMD table)", $"{Number(r.Tlb.PmdCacheHits + r.Tlb.PudCacheHits)} ({Number(r.Tlb.PmdCacheHits)} / {Number(r.Tlb.PudCacheHits)})");
        tlb.AddRow("walks from the root", Number(r.Tlb.Walks));
        tlb.AddRow("translations that faulted", Number(r.Tlb.Faults));
        tlb.AddRow("demand faults (pgfault)", Number(r.Memory.PageFaults));
        tlb.AddRow("THP faults (thp_fault_alloc / fallback)", $"{Number(r.Memory.ThpFaultAlloc)} / {Number(r.Memory.ThpFaultFallback)}");
        tlb.AddRow("leaves mapped (4 KiB / 2 MiB)", $"{Number(r.SmallPages)} / {Number(r.HugePages)}");
        tlb.Write(console);

        if (r.FirstBadLine is not null) environment.Error.WriteLine($"fastpt: skipped {Number(r.BadLines)} malformed line(s), the first: {r.FirstBadLine}");
        PageTableReport.Write(console, environment.Output, machine.PagingMode, r.Tables);
    }

    private static void WriteJson(TextWriter output, string path, Machine machine, bool thp, LackeyReplayResult r) =>
        JsonOutput.WriteDocument(output, json =>
        {
            json.WriteString("trace", path);
            json.WriteNumber("pagingLevels", (int)machine.PagingMode);
            json.WriteBoolean("transparentHugePages", thp);
            json.WriteNumber("lines", r.Lines);
            json.WriteNumber("skippedLines", r.SkippedLines);
            json.WriteNumber("badLines", r.BadLines);
            if (r.FirstBadLine is not null) json.WriteString("firstBadLine", r.FirstBadLine);
            json.WriteNumber("accesses", r.Accesses);
            json.WriteObject("accessesByKind", w =>
            {
                w.WriteNumber("fetch", r.AccessesByKind[(int)LackeyKind.Instruction]);
                w.WriteNumber("load", r.AccessesByKind[(int)LackeyKind.Load]);
                w.WriteNumber("store", r.AccessesByKind[(int)LackeyKind.Store]);
                w.WriteNumber("modify", r.AccessesByKind[(int)LackeyKind.Modify]);
            });
            json.WriteNumber("pageCrossings", r.PageCrossings);
            json.WriteNumber("translations", r.Translations);
            json.WriteNumber("distinctPages", r.DistinctPages);
            json.WriteNumber("unresolvedFaults", r.Unresolved);
            if (r.FirstUnresolved is PageFault fault) json.WriteString("firstUnresolvedFault", fault.ToString());
            json.WriteNumber("translateMilliseconds", r.TranslateTime.TotalMilliseconds);
            json.WriteNumber("elapsedMilliseconds", r.Elapsed.TotalMilliseconds);
            json.WriteNumber("accessesPerSecond", r.AccessesPerSecond);
            json.WriteObject("tlb", w =>
            {
                w.WriteNumber("hits", r.Tlb.Hits);
                w.WriteNumber("misses", r.Tlb.Misses);
                w.WriteNumber("hitRate", r.Tlb.HitRate);
                w.WriteNumber("pagingStructureCacheHits", r.Tlb.PmdCacheHits + r.Tlb.PudCacheHits);
                w.WriteNumber("pteTableCacheHits", r.Tlb.PmdCacheHits);
                w.WriteNumber("pmdTableCacheHits", r.Tlb.PudCacheHits);
                w.WriteNumber("walks", r.Tlb.Walks);
                w.WriteNumber("faults", r.Tlb.Faults);
            });
            json.WriteObject("faults", w =>
            {
                w.WriteNumber("pageFaults", r.Memory.PageFaults);
                w.WriteNumber("thpFaultAlloc", r.Memory.ThpFaultAlloc);
                w.WriteNumber("thpFaultFallback", r.Memory.ThpFaultFallback);
            });
            json.WriteObject("leaves", w =>
            {
                w.WriteNumber("4K", r.SmallPages);
                w.WriteNumber("2M", r.HugePages);
            });
            json.WriteObject("pageTables", w =>
            {
                if (machine.PagingMode == PagingMode.FiveLevel) w.WriteNumber("p4d", r.Tables.P4d);
                w.WriteNumber("pud", r.Tables.Pud);
                w.WriteNumber("pmd", r.Tables.Pmd);
                w.WriteNumber("pte", r.Tables.Pte);
            });
            json.WriteNumber("vmPteKiB", r.Tables.VmPteKiB);
        });

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
