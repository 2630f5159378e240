using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.KernelCheck;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt kernel-check --hugetlb</c>: the vmemmap pages the running kernel's HugeTLB vmemmap
/// optimization frees and re-allocates for a number of folios, beside FastPt's for the same folios.</summary>
internal static class KernelCheckHugeTlb
{
    /// <summary>2 MiB folios when neither count is given: the figure issue 13 quotes from Linux 6.18.</summary>
    public const long DefaultPages2M = 512;

    /// <summary>1 GiB folios when neither count is given.</summary>
    public const long DefaultPages1G = 2;

    /// <summary>The folios to use: the defaults when neither count is given, otherwise the counts given (a missing
    /// one is 0). Throws <see cref="CliException"/> when there is nothing to do or FastPt's machine is too small.</summary>
    public static HugeTlbRequest Request(long? pages2M, long? pages1G, ulong machineMemory)
    {
        var request = pages2M is null && pages1G is null
            ? new HugeTlbRequest(DefaultPages2M, DefaultPages1G)
            : new HugeTlbRequest(pages2M ?? 0, pages1G ?? 0);
        if (request.Sizes.Count == 0) throw new CliException("--pages-2m and --pages-1g are both 0: no folio to compare");
        // FastPt's machine needs the folios plus room for its memmap, tables and the restored vmemmap pages.
        if (request.Bytes > machineMemory / 4 * 3)
        {
            throw new CliException(
                $"the folios asked for take {SizeParser.Format(request.Bytes)}, more than three quarters of FastPt's machine ({SizeParser.Format(machineMemory)}): give a larger --memory");
        }
        return request;
    }

    /// <summary>Refuses (exit 2) when the host cannot run the check, boots FastPt's machine, measures both sides with
    /// every signal held until the host's settings are back, and prints the result. Returns the exit code.</summary>
    public static int Run(CliEnvironment environment, HugeTlbRequest request, MachineOptions machineOptions, bool json) =>
        Run(environment, request, machineOptions, json, RootedHostFiles.Host, HostIdentity.Current);

    /// <summary>Like <see cref="Run(CliEnvironment, HugeTlbRequest, MachineOptions, bool)"/> on the given files and
    /// host (tests give a directory of fake files).</summary>
    internal static int Run(CliEnvironment environment, HugeTlbRequest request, MachineOptions machineOptions, bool json, IHostFiles files, HostIdentity host)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (HugeTlbHostFiles.Unsupported(files, host, request) is { } reason) throw new CliException(reason);
        using Machine machine = CommonOptions.Boot(machineOptions, environment);

        // Said before anything changes, on stderr (also with --json): if the process is killed with SIGKILL, these are
        // the values to write back by hand.
        environment.Error.WriteLine("kernel-check --hugetlb: changing for the run, and writing back at the end (on an error or a signal too):");
        foreach (string line in DescribeSettings(files, request)) environment.Error.WriteLine("  " + line);
        HugeTlbCheckResult result;
        using (var guard = new InterruptGuard())
        {
            try
            {
                result = environment.WithStatus("growing and shrinking the kernel's HugeTLB pools, then FastPt's",
                    () => HugeTlbComparison.Run(files, machine, request, guard.Token));
            }
            catch (OperationCanceledException) when (guard.Signal is { } signal)
            {
                throw new CliException($"kernel-check --hugetlb: stopped by {signal}; every setting was written back, nothing was compared",
                    ExitCodes.BadInput);
            }
            catch (KernelCheckException exception)
            {
                throw new CliException("kernel-check --hugetlb: " + exception.Message, ExitCodes.BadInput);
            }
            catch (HugeTlbException exception)
            {
                throw new CliException($"kernel-check --hugetlb: {exception.Message} (a larger --memory holds more)", ExitCodes.BadInput);
            }
        }
        if (result.NothingCompared)
        {
            throw new CliException("kernel-check --hugetlb: " + result.Detail + " (" + string.Join(", ",
                result.Sizes.Select(s => FormattableString.Invariant($"{s.Kernel.Requested} × {HugeTlbHostFiles.SizeName(s.Kernel.Size)} asked, none got")))
                + "); every setting was written back", ExitCodes.BadInput);
        }
        if (json) WriteJson(environment.Output, result);
        else Render(environment.CreateConsole(), result);
        return result.Passed ? ExitCodes.Success : ExitCodes.ChecksFailed;
    }

    /// <summary>"/proc/sys/vm/hugetlb_optimize_vmemmap = 0": each setting the run writes, with its value now.</summary>
    private static string[] DescribeSettings(IHostFiles files, HugeTlbRequest request)
    {
        string Now(string path)
        {
            try
            {
                return HugeTlbHostFiles.ReadCount(files, path).ToString(CultureInfo.InvariantCulture);
            }
            catch (KernelCheckException)
            {
                return "(unreadable)";
            }
        }
        IEnumerable<string> paths = request.Sizes.Select(s => HugeTlbHostFiles.NrHugepages(s.Size)).Prepend(HugeTlbHostFiles.OptimizeVmemmap);
        return paths.Select(path => $"{files.FullPath(path)} = {Now(path)}").ToArray();
    }

    /// <summary>"512 × 2 MiB and 2 × 1 GiB folios".</summary>
    public static string Describe(HugeTlbRequest request) =>
        string.Join(" and ", request.Sizes.Select(s => FormattableString.Invariant($"{s.Folios:N0} × {HugeTlbHostFiles.SizeName(s.Size)}"))) + " folios";

    /// <summary>The design as the option spells it, and in words.</summary>
    public static (string Option, string Words) DesignName(HvoDesign design) =>
        design == HvoDesign.SharedTail ? ("shared", "shared tail (the 2026 series)") : ("6x", "6x (fake heads)");

    /// <summary>The side-by-side table: per size, the pages freed on the grow and re-allocated on the shrink.</summary>
    public static ReportTable SideBySide(HugeTlbCheckResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var rows = new List<IReadOnlyList<ReportValue>>();
        foreach (HugeTlbSizeComparison size in result.Sizes.Where(s => s.Compared))
        {
            string folios = FormattableString.Invariant($"{size.Kernel.Got:N0} × {HugeTlbHostFiles.SizeName(size.Kernel.Size)}");
            HostHugeTlbRound k = size.Kernel.Result;
            rows.Add(Row(folios, "freed on grow", k.FreedOnGrow, size.FastPt!.FreedOnGrow));
            rows.Add(Row(folios, "re-allocated on shrink", k.ReallocatedOnShrink, size.FastPt.ReallocatedOnShrink));
        }
        return new ReportTable("vmemmap pages (change of nr_memmap_pages + nr_memmap_boot_pages)",
            ["folios", "step", "kernel", "FastPt", "difference"], rows);

        static ReportValue[] Row(string folios, string step, long kernel, long fastPt) =>
        [
            ReportValue.FromText(folios), ReportValue.FromText(step), ReportValue.FromWholeNumber(kernel),
            ReportValue.FromWholeNumber(fastPt), ReportValue.FromWholeNumber(fastPt - kernel),
        ];
    }

    /// <summary>What happened to one size on the kernel: "2 MiB: pool of 0 grown by 512, got 512; 2 rounds, the
    /// last two agreeing".</summary>
    public static string DescribeKernelSize(HostHugeTlbSize size)
    {
        ArgumentNullException.ThrowIfNull(size);
        string got = size.Got == size.Requested
            ? FormattableString.Invariant($"got {size.Got:N0}")
            : FormattableString.Invariant($"got only {size.Got:N0}: FastPt gets as many, only they are compared");
        if (size.Got == 0) got = "got none: not compared";
        string rounds = size.Agreed
            ? FormattableString.Invariant($"{size.Rounds.Count} rounds, the last two agreeing")
            : FormattableString.Invariant($"{size.Rounds.Count} rounds, no two in a row agreeing");
        return FormattableString.Invariant(
            $"{HugeTlbHostFiles.SizeName(size.Size)}: pool of {size.PoolBefore:N0} grown by {size.Requested:N0}, {got}; {rounds}");
    }

    private static void Render(IAnsiConsole console, HugeTlbCheckResult result)
    {
        var request = new HugeTlbRequest(
            result.Sizes.FirstOrDefault(s => s.Kernel.Size == PageSize.Size2M)?.Kernel.Requested ?? 0,
            result.Sizes.FirstOrDefault(s => s.Kernel.Size == PageSize.Size1G)?.Kernel.Requested ?? 0);
        console.MarkupLine($"[bold]fastpt kernel-check --hugetlb[/]: {Markup.Escape(Describe(request))}");
        console.MarkupLine($"[grey]kernel:[/] Linux {Markup.Escape(KernelCheckCommand.KernelRelease())}, hugetlb_optimize_vmemmap "
            + $"{Markup.Escape(result.Kernel.OptimizeBefore)}, set to 1 for the run");
        foreach (HugeTlbSizeComparison size in result.Sizes)
        {
            console.MarkupLine("  " + Markup.Escape(DescribeKernelSize(size.Kernel)));
            if (size.Kernel.PoolBefore > 0)
                console.MarkupLine("  [grey]the pool had folios already: the shrink may release any free folio of the size[/]");
            if (!size.Kernel.Agreed)
            {
                foreach (HostHugeTlbRound round in size.Kernel.Rounds)
                {
                    console.MarkupLine(CultureInfo.InvariantCulture, "    [grey]round:[/] got {0:N0}, freed {1:N0}, re-allocated {2:N0}, {3:N0} left",
                        round.Got, round.FreedOnGrow, round.ReallocatedOnShrink, round.LeftAfterShrink);
                }
            }
        }
        string pools = string.Join(" and ", result.Kernel.Restored.Where(s => s.Size is not null).Select(s => $"{s.Now} ({HugeTlbHostFiles.SizeName(s.Size!.Value)})"));
        string switches = string.Join(", ", result.Kernel.Restored.Where(s => s.Size is null).Select(s => $"{s.Name} {s.Now}"));
        console.MarkupLine("  [grey]restored:[/] " + Markup.Escape(switches + ", nr_hugepages " + pools));
        foreach (RestoredSetting setting in result.Kernel.Restored.Where(s => !s.Intact))
        {
            console.MarkupLine($"  [yellow]warning:[/] {Markup.Escape(setting.Name)} reads {Markup.Escape(setting.Now)} after writing "
                + $"{Markup.Escape(setting.Saved)} back (folios in use by another process return to the buddy allocator as they are freed)");
        }
        (_, string words) = DesignName(result.Design);
        console.MarkupLine($"[grey]FastPt:[/] {Markup.Escape(SizeParser.Format(result.MachineMemory))} machine, design {Markup.Escape(words)}, the folios the kernel got");
        Rendering.ReportRenderer.ToTable(SideBySide(result)).Write(console);
        if (result.Design == HvoDesign.SharedTail)
        {
            int tails = result.Sizes.Where(s => s.FastPt is not null).Select(s => s.FastPt!.SharedTailPages).DefaultIfEmpty(0).Max();
            console.MarkupLine(CultureInfo.InvariantCulture,
                "[grey]note:[/] the shared-tail design keeps {0:N0} shared tail page(s), one per zone and order, in memmap; a kernel "
                + "without the 2026 series uses fake heads, which --design 6x models", tails);
        }
        console.MarkupLine(result.Passed ? $"[green]{Markup.Escape(result.Verdict)}[/]" : $"[red]{Markup.Escape(result.Verdict)}[/]");
    }

    private static void WriteJson(TextWriter output, HugeTlbCheckResult result) =>
        JsonOutput.WriteDocument(output, json =>
        {
            json.WriteString("mode", "hugetlb");
            json.WriteBoolean("passed", result.Passed);
            json.WriteString("verdict", result.Verdict);
            json.WriteString("design", DesignName(result.Design).Option);
            json.WriteObject("kernel", w =>
            {
                w.WriteString("release", KernelCheckCommand.KernelRelease());
                w.WriteString("optimizeVmemmapBefore", result.Kernel.OptimizeBefore);
                w.WriteObjects("restored", result.Kernel.Restored, static (r, setting) =>
                {
                    r.WriteString("name", setting.Name);
                    r.WriteString("path", setting.Path);
                    r.WriteString("saved", setting.Saved);
                    r.WriteString("now", setting.Now);
                    r.WriteBoolean("written", setting.Written);
                });
                w.WriteNumber("elapsedMilliseconds", result.Kernel.Elapsed.TotalMilliseconds);
            });
            json.WriteObject("fastpt", w =>
            {
                w.WriteNumber("memoryBytes", result.MachineMemory);
                w.WriteNumber("elapsedMilliseconds", result.FastPtTime.TotalMilliseconds);
            });
            json.WriteObjects("sizes", result.Sizes, static (w, size) => WriteSize(w, size));
        });

    private static void WriteSize(Utf8JsonWriter json, HugeTlbSizeComparison size)
    {
        HostHugeTlbSize k = size.Kernel;
        json.WriteString("pageSize", k.Size.ShortName());
        json.WriteNumber("requested", k.Requested);
        json.WriteNumber("poolBefore", k.PoolBefore);
        json.WriteNumber("kernelGot", k.Got);
        json.WriteBoolean("compared", size.Compared);
        json.WriteBoolean("readingsAgreed", k.Agreed);
        json.WriteBoolean("equal", size.Equal);
        json.WriteObject("kernel", w =>
        {
            w.WriteNumber("freedOnGrow", k.Result.FreedOnGrow);
            w.WriteNumber("reallocatedOnShrink", k.Result.ReallocatedOnShrink);
            w.WriteObjects("rounds", k.Rounds, static (r, round) =>
            {
                r.WriteNumber("got", round.Got);
                r.WriteNumber("freedOnGrow", round.FreedOnGrow);
                r.WriteNumber("reallocatedOnShrink", round.ReallocatedOnShrink);
                r.WriteNumber("leftAfterShrink", round.LeftAfterShrink);
                WriteCounters(r, "beforeGrow", round.BeforeGrow);
                WriteCounters(r, "afterGrow", round.AfterGrow);
                WriteCounters(r, "afterShrink", round.AfterShrink);
            });
        });
        if (size.FastPt is not { } f)
        {
            json.WriteNull("fastpt");
            json.WriteNull("difference");
            return;
        }
        json.WriteObject("fastpt", w =>
        {
            w.WriteNumber("folios", f.Folios);
            w.WriteNumber("freedOnGrow", f.FreedOnGrow);
            w.WriteNumber("reallocatedOnShrink", f.ReallocatedOnShrink);
            w.WriteNumber("vmemmapPagesFreed", f.HvoPagesFreed);
            w.WriteNumber("vmemmapPagesRestored", f.HvoPagesRestored);
            w.WriteNumber("sharedTailPages", f.SharedTailPages);
        });
        json.WriteObject("difference", w =>
        {
            w.WriteNumber("freedOnGrow", f.FreedOnGrow - k.Result.FreedOnGrow);
            w.WriteNumber("reallocatedOnShrink", f.ReallocatedOnShrink - k.Result.ReallocatedOnShrink);
        });
    }

    private static void WriteCounters(Utf8JsonWriter json, string name, MemmapCounters counters) =>
        json.WriteObject(name, w =>
        {
            w.WriteNumber("memmapPages", counters.MemmapPages);
            w.WriteNumber("memmapBootPages", counters.MemmapBootPages);
        });
}
